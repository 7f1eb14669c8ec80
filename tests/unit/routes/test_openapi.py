"""`/openapi.json` is generated from the routes the app serves, and `/docs` renders it offline."""

from __future__ import annotations

import re

from tests.unit.routes.conftest import ApiFactory


async def test_every_served_route_is_in_the_document_and_back(api: ApiFactory) -> None:
    client = await api()
    r = await client.get("/openapi.json")
    spec = await r.json()
    assert spec["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert client.app is not None
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert served == documented
    for path in ("/blocks/settlement-status/{block}", "/api/v1/jobs/{id}/retry", "/admin/audit", "/api/v1/health"):
        assert path in spec["paths"]
    deprecated_get = spec["paths"]["/jobs/{id}/retry"]["get"]
    assert deprecated_get["deprecated"] is True and deprecated_get["security"] == [{"bearer": []}]
    block = spec["paths"]["/jobs/block/{block}/status"]["get"]["parameters"][0]
    assert block["schema"]["maximum"] == 2**63 - 1


async def test_docs_page_lists_every_operation_and_loads_nothing_from_outside(api: ApiFactory) -> None:
    client = await api()
    spec = await (await client.get("/openapi.json")).json()
    r = await client.get("/docs")
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    for path in spec["paths"]:
        assert f"<code>{path}</code>" in page
    assert not re.search(r"""(src|href)=["']https?://""", page), "no CDN: the network may be closed"
