"""Sign a message with dkimpy (the independent reference signer).

usage: dkim_sign_ref.py KEY.pem DOMAIN SELECTOR IN.eml OUT.eml
"""
import sys

import dkim

key, domain, selector, src, dst = sys.argv[1:6]
msg = open(src, "rb").read()
sig = dkim.sign(msg, selector.encode(), domain.encode(), open(key, "rb").read(),
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
open(dst, "wb").write(sig + msg)
