#!/usr/bin/env python3
"""Verifies a PGP/MIME (RFC 3156) mail with gpg, from outside the project:
the signed part's exact bytes and the detached signature are cut from the
raw .eml, and gpg checks one against the other with the public key given.

Usage: verify-pgp-mime.py MAIL.eml PUBLIC-KEY.asc
"""
import re, sys, subprocess, tempfile, os
raw = open(sys.argv[1], 'rb').read()
head, _, body = raw.partition(b'\r\n\r\n')
m = re.search(rb'boundary="?([^";\r\n]+)"?', head.replace(b'\r\n ', b' '))
b = b'--' + m.group(1)
chunks = body.split(b)
signed = chunks[1][2:]            # after the CRLF that ends the boundary line
signed = signed[:-2]              # the CRLF before the next boundary belongs to it
sig = chunks[2]
sig = sig[sig.index(b'-----BEGIN PGP SIGNATURE'):sig.index(b'-----END PGP SIGNATURE-----')+len(b'-----END PGP SIGNATURE-----')]
d = tempfile.mkdtemp()
open(os.path.join(d,'signed'),'wb').write(signed)
open(os.path.join(d,'sig.asc'),'wb').write(sig)
home = tempfile.mkdtemp()
subprocess.run(['gpg','--homedir',home,'--batch','--quiet','--import',sys.argv[2]],check=True)
r = subprocess.run(['gpg','--homedir',home,'--batch','--verify',os.path.join(d,'sig.asc'),os.path.join(d,'signed')],capture_output=True,text=True)
print(r.stderr.strip())
sys.exit(r.returncode)
