"""Mint a development JWT: ``python -m alliance_shared.tokens --role secretariat`` (``make token``)."""

from __future__ import annotations

import argparse

from .auth import mint_token
from .contracts.vocabulary import Role
from .settings import ServiceSettings


def main() -> None:
    parser = argparse.ArgumentParser(description="print a signed development token")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--institution")
    parser.add_argument("--organization")
    parser.add_argument("--subject", default="dev-user")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    settings = ServiceSettings()
    print(mint_token(settings.auth_jwt_secret, role=args.role, subject=args.subject,
                     institution_id=args.institution, organization_id=args.organization, ttl_s=args.hours * 3600))


if __name__ == "__main__":
    main()
