import asyncio

from aiohttp import web

from orchestrator.clients.http import HttpService, RetryConfig


def test_a_client_survives_a_new_event_loop() -> None:
    """CLI commands may call asyncio.run more than once with the same client."""

    async def serve_and_call(service: HttpService) -> int:
        app = web.Application()

        async def hello(_request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app.add_routes([web.get("/hello", hello)])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            reply = await service.request("hello", "GET", f"http://127.0.0.1:{port}/hello")
            return reply.status
        finally:
            await runner.cleanup()

    service = HttpService("svc", "http://127.0.0.1:1", retry=RetryConfig(0, 0))
    assert asyncio.run(serve_and_call(service)) == 200
    assert asyncio.run(serve_and_call(service)) == 200
    asyncio.run(service.close())
