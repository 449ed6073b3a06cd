//! The Python the bench runs, embedded: MSAL for Python's password flow and cached path, a TLS
//! relay for MSAL (which accepts only `https://` authorities), and the Databricks SDK's cluster
//! listing. Each is written to the scratch directory and run by the bench venv's interpreter.

pub(crate) const MSAL_COMMON: &str = r#"
import os, sys
import msal
AUTHORITY = "https://127.0.0.1/" + os.environ["BENCH_TENANT"]
def app(cache=None):
    return msal.PublicClientApplication(
        os.environ["BENCH_CLIENT"], authority=AUTHORITY, token_cache=cache,
        validate_authority=False, instance_discovery=False)
"#;

/// Password flow, fresh process, no cache file; with an argument, saves the cache there.
pub(crate) const MSAL_PASSWORD: &str = r#"
import warnings
warnings.simplefilter("ignore")
cache = msal.SerializableTokenCache()
r = app(cache).acquire_token_by_username_password(
    os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"], scopes=[os.environ["BENCH_SCOPE"]])
if "access_token" not in r:
    print(r, file=sys.stderr)
    sys.exit(1)
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as f:
        f.write(cache.serialize())
print(r["access_token"])
"#;

/// The cached path: load the serialized cache, `acquire_token_silent`, print.
pub(crate) const MSAL_CACHED: &str = r#"
cache = msal.SerializableTokenCache()
with open(sys.argv[1]) as f:
    cache.deserialize(f.read())
a = app(cache)
accounts = a.get_accounts()
r = a.acquire_token_silent([os.environ["BENCH_SILENT_SCOPE"]], account=accounts[0]) if accounts else None
if not r or "access_token" not in r or r.get("token_source") != "cache":
    import json
    seen = {k: [(e.get("environment"), e.get("realm"), e.get("target")) for e in v.values()]
            for k, v in json.loads(cache.serialize()).items()}
    print("no cached token:", r, "accounts:", accounts, "cache:", seen, file=sys.stderr)
    sys.exit(1)
print(r["access_token"])
"#;

/// A TLS-terminating relay: 127.0.0.1:443 → the mock's plain HTTP port.
pub(crate) const TLS_RELAY: &str = r#"
import asyncio, ssl, sys
cert, key, port, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
async def pipe(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except Exception:
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass
async def handle(cr, cw):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", target)
    except Exception:
        cw.close()
        return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
"#;

/// The Databricks SDK for Python listing every cluster, printed as JSON.
pub(crate) const SDK_LIST: &str = r#"
import json, os, sys
from databricks.sdk import WorkspaceClient
w = WorkspaceClient(host=os.environ["BENCH_HOST"], token=os.environ["BENCH_TOKEN"], auth_type="pat")
json.dump([c.as_dict() for c in w.clusters.list(page_size=100)], sys.stdout)
"#;
