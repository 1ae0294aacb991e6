"""The shared output engines: PDF (embedded Japanese fonts) and CSV (cp932 or UTF-8 with BOM)."""
