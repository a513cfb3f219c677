"""`edgernn sign` and `edgernn verify`: a bundle's signature (OpenSSF model-signing, a PEM key pair).

openssl ecparam -name prime256v1 -genkey -noout -out my.pem   # once: the private key
openssl ec -in my.pem -pubout -out my.pub                     # and its public half
edgernn sign BUNDLE --key my.pem
edgernn verify BUNDLE --key my.pub                            # exit 0, or 3 and why
"""

from __future__ import annotations

import argparse

from ..bundle import Bundle
from ..signing import sign as sign_bundle


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help="sign every file of a bundle with a PEM private key (needs edgernn[sign])")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("--key", required=True, help="PEM elliptic-curve private key")
    p.set_defaults(func=sign)

    p = sub.add_parser("verify", help="check a bundle's signature against trusted public keys (needs edgernn[sign])")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("--key", required=True, action="append", help="PEM public key (repeat for several)")
    p.set_defaults(func=verify)


def sign(args) -> int:
    Bundle.open(args.bundle)  # a bundle that does not read is not signed
    path = sign_bundle(args.bundle, args.key)
    print(f"signed {args.bundle}: {path.name} covers every file, manifest.json included")
    return 0


def verify(args) -> int:
    bundle = Bundle.open(args.bundle, trusted_keys=args.key)  # SignatureError -> exit 3
    bundle.check_integrity()
    print(f"verified {args.bundle}: signed by a trusted key, every file as signed")
    return 0
