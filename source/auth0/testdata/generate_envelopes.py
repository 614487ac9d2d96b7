"""Write the synthetic Auth0 log stream envelopes of this folder:
eventbridge-events.jsonl and event-grid-events.json.

Run it in this folder with python3. See README.md for what each record tests."""

import json

HOST = "login.example.com"
DANA = "auth0|65e1a7c0ffee00000000d004"
SESSION = "Dd0SessionOfDana000000000000000a1"
WEB = "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"
LYON = {"country_code": "FR", "country_code3": "FRA", "country_name": "France", "city_name": "Lyon",
        "latitude": 45.764, "longitude": 4.8357, "time_zone": "Europe/Paris", "continent_code": "EU"}


def lid(n):
    return "900202504031400%041d" % n


def log(n, date, type, description, **fields):
    record = {"date": date, "type": type, "description": description, "client_id": WEB,
              "client_name": "Example Shop", "hostname": HOST, "user_id": DANA,
              "user_name": "dana@example.com", "log_id": lid(n)}
    record.update(fields)
    return record


def bridge(n, time, detail, source="aws.partner/auth0.com/example-tenant-2f6c1d0e/auth0.logs",
           detail_type="Auth0 log"):
    return {"version": "0", "id": "6a8b0005-0000-4000-8000-%012d" % n, "detail-type": detail_type,
            "source": source, "account": "111122223333", "time": time, "region": "eu-west-1",
            "resources": [], "detail": detail}


def wrapped(record):
    return {"log_id": record["log_id"], "data": record}


code_exchange = log(1, "2025-04-03T14:00:01.250Z", "seacft", "Authorization Code for Access Token",
                    ip="192.0.2.44", user_agent="node-fetch/1.0",
                    details={"code": "*************************************Rk2",
                             "access_token_jti": "c0ffee00-4444-4a2b-8c3d-000000000004"},
                    audience="https://api.example.com/", scope="openid offline_access read:orders",
                    location_info=LYON)
refresh = log(2, "2025-04-03T15:00:02.500Z", "sertft", "Refresh Token for Access Token",
              ip="2001:db8:7::21", user_agent=SAFARI,
              details={"familyId": "fam_Example0000000004", "tokenCounter": 1,
                       "access_token_jti": "c0ffee00-4444-4a2b-8c3d-000000000005",
                       "refresh_token": {"access": "offline", "session_id": SESSION}},
              audience="https://api.example.com/", scope=["openid", "offline_access", "read:orders"],
              location_info=LYON)
reuse = log(3, "2025-04-03T15:20:00.000Z", "ferrt",
            "Refresh token presented again after it was rotated; the token family is revoked",
            ip="203.0.113.200", user_agent="curl/8.5.0",
            details={"familyId": "fam_Example0000000004", "tokenCounter": 1, "latestCounter": 2},
            audience="https://api.example.com/")
no_date = log(6, "", "seacft", "Authorization Code for Access Token", ip="192.0.2.44")
del no_date["date"]
okta_detail = {"uuid": "7b2e0002-0000-4000-8000-000000000099", "published": "2025-04-03T15:00:00.000Z",
               "eventType": "user.session.start", "actor": {"id": "00u2f8exampleUser02", "type": "User"}}

bridges = [
    bridge(1, "2025-04-03T14:00:02Z", wrapped(code_exchange)),
    bridge(2, "2025-04-03T15:00:03Z", wrapped(refresh)),
    bridge(3, "2025-04-03T15:20:01Z", reuse),
    bridge(4, "2025-04-03T15:00:01Z", okta_detail, source="aws.partner/okta.com/example/travel-log-stream",
           detail_type="SystemLog"),
    bridge(5, "2025-04-03T15:30:00Z", "not a log"),
    bridge(6, "2025-04-03T15:40:00Z", wrapped(no_date)),
]
with open("eventbridge-events.jsonl", "w") as f:
    for b in bridges:
        f.write(json.dumps(b, separators=(",", ":")) + "\n")


def grid(n, time, data, event_type="Auth0.Log", subject="auth0/logs"):
    return {"id": "3e9d0006-0000-4000-8000-%012d" % n, "topic": "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/example-rg/providers/Microsoft.EventGrid/partnerTopics/auth0-example",
            "subject": subject, "eventType": event_type, "eventTime": time, "data": data,
            "dataVersion": "1.0", "metadataVersion": "1"}


login = log(4, "2025-04-03T13:59:58.100Z", "s", "", ip="192.0.2.44", user_agent=SAFARI,
            connection="Username-Password-Authentication",
            details={"prompts": [], "session_id": SESSION, "stats": {"loginsCount": 3}},
            strategy="auth0", strategy_type="database", location_info=LYON)
revoke = log(5, "2025-04-03T15:20:00.120Z", "srrt", "Revoked refresh token family after reuse",
             ip="203.0.113.200", user_agent="curl/8.5.0",
             details={"credential_id": "fam_Example0000000004"})
logout = log(7, "2025-04-03T15:21:00", "slo", "User successfully logged out.",
             ip="3f2504e0-4f89-41d3-9a0c-0305e82c3301", user_agent="null",
             details={"return_to": "https://shop.example.com/", "session_id": SESSION},
             location_info={"country_code": "", "city_name": "null", "latitude": 0, "longitude": 0})
blob = {"api": "PutBlob", "contentType": "application/json", "contentLength": 512,
        "url": "https://examplestore.blob.core.windows.net/logs/a.json"}

grids = [
    grid(1, "2025-04-03T13:59:59Z", login),
    grid(2, "2025-04-03T15:20:01Z", wrapped(revoke)),
    grid(3, "2025-04-03T15:21:01Z", logout),
    grid(4, "2025-04-03T15:22:00Z", blob, event_type="Microsoft.Storage.BlobCreated",
         subject="/blobServices/default/containers/logs/blobs/a.json"),
]
with open("event-grid-events.json", "w") as f:
    json.dump(grids, f, indent=2)
    f.write("\n")
