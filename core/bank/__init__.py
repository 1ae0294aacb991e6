"""What the bank provides: its configuration file (contracts, deposit groups, module enablement),
its paper forms and the manuals it publishes."""
