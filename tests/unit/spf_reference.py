"""Reference SPF results from pyspf (Debian python3-spf), for test_common_spf.

usage: spf_reference.py PORT IP HELO SENDER  -> prints the pyspf result word
"""
import sys

import dns.resolver
import spf

port, ip, helo, sender = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = port
r.lifetime = 1
dns.resolver.default_resolver = r
result, _code, _expl = spf.query(i=ip, s=sender or "", h=helo, timeout=2).check()
print(result)
