"""CA signers (CERT-1), each a plugin of the ``cjs.signers`` entry-point group: the software key file
(``hsm.software``) and an HSM through PKCS#11 (``hsm.pkcs11``).

A signer holds the CA key and signs what ``core.pki`` builds; it depends only on the signer API of
core: the X.509 profile (``core.pki.x509``), the hooks (``core.hookspecs``) and the settings
(``core.settings``), and on the interface it provides (``hsm.interfaces.ISigner``). The CA's files
and commands (``core.pki.ca``) and the choice of the signer (``core.pki.signers``) live in core.
"""
