"""The registry's errors, as types (mapped to HTTP answers by `alliance_shared.http`)."""

from __future__ import annotations

from alliance_shared.errors import Conflict, Forbidden, NotFound


class UnknownInstitution(NotFound):
    def __init__(self, field: str = "institution_id") -> None:
        super().__init__("机构不存在 / no such institution", field=field)


class UnknownOrganization(NotFound):
    def __init__(self, field: str = "organization_id") -> None:
        super().__init__("党组织不存在 / no such organisation", field=field)


class UnknownMember(NotFound):
    def __init__(self, field: str = "member_id") -> None:
        super().__init__("党员不存在 / no such member", field=field)


class UnknownTransfer(NotFound):
    def __init__(self) -> None:
        super().__init__("转接不存在 / no such transfer", field="transfer_id")


class UnknownApiKey(NotFound):
    def __init__(self) -> None:
        super().__init__("API 密钥不存在 / no such API key", field="key_id")


class UnknownImport(NotFound):
    def __init__(self) -> None:
        super().__init__("导入任务不存在 / no such import", field="import_id")


class AlreadyRegistered(Conflict):
    code = "already_registered"


class OrganizationClosed(Conflict):
    code = "organization_closed"

    def __init__(self, field: str = "organization_id") -> None:
        super().__init__("党组织已撤销 / the organisation is closed", field=field)


class TooManyActiveKeys(Conflict):
    code = "too_many_active_keys"


class ForeignTenant(Forbidden):
    """The caller touched another institution's or organisation's data."""

    def __init__(self, field: str | None = None) -> None:
        super().__init__("无权访问其他机构或组织的数据 / not your institution or organisation", field=field)
