"""Write the synthetic Auth0 logs of this folder: management-api-logs.json and log-stream.jsonl.

Run it in this folder with python3. See README.md for what each record tests."""

import json


def lid(n):
    return "900202503011015%041d" % n

HOST = "login.example.com"
USER = "auth0|65e1a7c0ffee00000000a001"
SESSION = "Kq3vT9xYbL2mN8pR4sW6uZ0aC5dE7fGh"
WEB = "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA"
M2M = "Mm2Mc1i3ntIdF0rBackOfficeJob0001"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0"
APP = "ExampleShop/4.2 (Android 14)"
BERLIN = {"country_code": "DE", "country_code3": "DEU", "country_name": "Germany", "city_name": "Berlin",
          "latitude": 52.52, "longitude": 13.405, "time_zone": "Europe/Berlin", "continent_code": "EU"}

records = [
    {"date": "2025-03-01T10:15:00.120Z", "type": "s", "description": "", "connection": "Username-Password-Authentication",
     "connection_id": "con_Example00000001", "client_id": WEB, "client_name": "Example Shop", "ip": "203.0.113.10",
     "user_agent": FIREFOX, "details": {"prompts": [], "initiatedAt": 1740824090000, "completedAt": 1740824100119,
     "elapsedTime": 10119, "session_id": SESSION, "stats": {"loginsCount": 12}},
     "hostname": HOST, "user_id": USER, "user_name": "alice@example.com", "strategy": "auth0",
     "strategy_type": "database", "log_id": lid(1), "isMobile": False, "location_info": BERLIN},
    {"date": "2025-03-01T10:15:00.480Z", "type": "gd_auth_succeed", "description": "Second factor accepted",
     "client_id": WEB, "client_name": "Example Shop", "ip": "203.0.113.10", "user_agent": FIREFOX,
     "details": {"authenticator": {"type": "otp"}}, "hostname": HOST, "user_id": USER,
     "user_name": "alice@example.com", "log_id": lid(2), "isMobile": False, "location_info": BERLIN},
    {"date": "2025-03-01T10:15:01.002Z", "type": "seacft", "description": "Authorization Code for Access Token",
     "connection_id": "", "client_id": WEB, "client_name": "Example Shop", "ip": "203.0.113.10",
     "user_agent": "node-fetch/1.0", "details": {"code": "*************************************7Hq"},
     "hostname": HOST, "user_id": USER, "user_name": "alice@example.com",
     "audience": "https://api.example.com/", "scope": "openid profile offline_access read:orders",
     "log_id": lid(3), "isMobile": False},
    {"date": "2025-03-01T11:15:03.250Z", "type": "sertft", "description": "Refresh Token for Access Token",
     "connection_id": "", "client_id": WEB, "client_name": "Example Shop", "ip": "203.0.113.10",
     "user_agent": FIREFOX, "details": {"familyId": "fam_Example0000000001", "tokenCounter": 1,
     "access_token_jti": "c0ffee00-1111-4a2b-8c3d-000000000001",
     "refresh_token": {"access": "offline", "session_id": SESSION}},
     "hostname": HOST, "user_id": USER, "user_name": "alice@example.com",
     "audience": "https://api.example.com/", "scope": ["openid", "profile", "offline_access", "read:orders"],
     "log_id": lid(4), "isMobile": False, "location_info": BERLIN},
    {"date": "2025-03-01T12:15:04.901Z", "type": "sertft", "description": "Refresh Token for Access Token",
     "connection_id": "", "client_id": WEB, "client_name": "Example Shop", "ip": "::ffff:198.51.100.77",
     "user_agent": APP, "details": {"familyId": "fam_Example0000000001", "tokenCounter": 2,
     "refresh_token": {"access": "offline", "session_id": SESSION}},
     "hostname": HOST, "user_id": USER, "user_name": "alice@example.com",
     "audience": "https://api.example.com/", "scope": "openid profile offline_access read:orders",
     "log_id": lid(5), "isMobile": True,
     "location_info": {"country_code": "", "city_name": "", "latitude": 0, "longitude": 0}},
    {"date": "2025-03-01T12:40:17.333Z", "type": "ferrt",
     "description": "Refresh token presented again after it was rotated; the token family is revoked",
     "connection_id": "", "client_id": WEB, "client_name": "Example Shop", "ip": "2001:db8:4::17",
     "user_agent": "python-requests/2.32.3", "details": {"familyId": "fam_Example0000000001",
     "tokenCounter": 1, "latestCounter": 2}, "hostname": HOST, "user_id": USER,
     "user_name": "alice@example.com", "audience": "https://api.example.com/", "log_id": lid(6),
     "isMobile": False,
     "location_info": {"country_code": "NL", "country_name": "Netherlands", "city_name": "Amsterdam",
                       "latitude": 52.3676, "longitude": 4.9041}},
    {"date": "2025-03-01T12:40:17.410Z", "type": "srrt", "description": "Revoked refresh token family after reuse",
     "client_id": WEB, "client_name": "Example Shop", "ip": "2001:db8:4::17",
     "user_agent": "python-requests/2.32.3", "details": {"credential_id": "fam_Example0000000001"},
     "hostname": HOST, "user_id": USER, "user_name": "alice@example.com", "log_id": lid(7)},
    {"date": "2025-03-01T12:41:02.004Z", "type": "slo", "description": "User successfully logged out.",
     "connection": "Username-Password-Authentication", "connection_id": "con_Example00000001",
     "client_id": WEB, "client_name": "Example Shop", "ip": "203.0.113.10", "user_agent": FIREFOX,
     "details": {"return_to": "https://shop.example.com/", "allowed_logout_url": ["https://shop.example.com/"],
                 "session_id": SESSION}, "hostname": HOST, "user_id": USER,
     "user_name": "alice@example.com", "log_id": lid(8), "location_info": BERLIN},
    {"date": "2025-03-01T13:00:00.000Z", "type": "fertft", "description": "Unknown or invalid refresh token.",
     "connection_id": "", "client_id": WEB, "client_name": "Example Shop", "ip": "2001:db8:4::17",
     "user_agent": "python-requests/2.32.3", "details": {"refresh_token": {"access": "offline"}},
     "hostname": HOST, "user_id": "", "user_name": "", "audience": "https://api.example.com/",
     "log_id": lid(9), "isMobile": False},
    {"date": "2025-03-01T13:05:00.000Z", "type": "seccft", "description": "Client Credentials for Access Token",
     "connection_id": "", "client_id": M2M, "client_name": "Back-office job", "ip": "198.51.100.20",
     "user_agent": "Go-http-client/2.0", "details": {}, "hostname": HOST, "user_id": "", "user_name": "",
     "audience": "https://login.example.com/api/v2/", "scope": "read:users update:users",
     "log_id": lid(10), "isMobile": False},
    {"date": "2025-03-01T13:05:02.500Z", "type": "sapi", "description": "Update a user",
     "client_id": M2M, "client_name": "Back-office job", "ip": "198.51.100.20",
     "user_agent": "Go-http-client/2.0",
     "details": {"request": {"method": "patch", "path": "/api/v2/users/auth0%7C65e1a7c0ffee00000000a001",
       "query": {}, "userAgent": "Go-http-client/2.0", "body": {"blocked": True},
       "channel": "api", "ip": "198.51.100.20",
       "auth": {"user": {}, "strategy": "jwt", "credentials": {"jti": "5b7e2c9a41d34f0e8a6b1c2d3e4f5a6b",
                "scopes": ["read:users", "update:users"]}}},
       "response": {"statusCode": 200, "body": {"user_id": USER, "blocked": True}}},
     "user_id": "", "hostname": HOST, "log_id": lid(11)},
    {"date": "2025-03-01T13:05:03.100Z", "type": "fapi", "description": "Insufficient scope; delete:users is required",
     "client_id": M2M, "client_name": "Back-office job", "ip": "",
     "user_agent": "",
     "details": {"request": {"method": "delete", "path": "/api/v2/users/auth0%7C65e1a7c0ffee00000000a001",
       "query": {}, "userAgent": "Go-http-client/2.0", "body": {}, "channel": "api", "ip": "198.51.100.20",
       "auth": {"user": {}, "strategy": "jwt", "credentials": {"jti": "5b7e2c9a41d34f0e8a6b1c2d3e4f5a6b",
                "scopes": ["read:users", "update:users"]}}},
       "response": {"statusCode": 403, "body": {"error": "Forbidden", "message": "Insufficient scope"}}},
     "user_id": "", "hostname": HOST, "log_id": lid(12)},
    {"date": "2025-03-01T13:10:00.000Z", "type": "sapi", "description": "Update tenant settings",
     "client_id": "", "client_name": "", "ip": "203.0.113.50", "user_agent": FIREFOX,
     "details": {"request": {"method": "patch", "path": "/api/v2/tenants/settings", "channel": "https://manage.example.com/",
       "ip": "203.0.113.50", "auth": {"user": {"user_id": "google-oauth2|100000000000000000001",
       "name": "Admin Example", "email": "admin@example.com"}, "strategy": "session"}},
       "response": {"statusCode": 200, "body": {}}},
     "user_id": "google-oauth2|100000000000000000001", "log_id": lid(13)},
    {"date": "2025-03-01T13:20:00.000Z", "type": "du", "description": "User deleted",
     "client_id": M2M, "ip": "198.51.100.20", "details": {}, "user_id": "auth0|65e1a7c0ffee00000000b002",
     "hostname": HOST, "log_id": lid(14)},
    {"date": "2025-03-01T13:30:00.000Z", "type": "fp", "description": "Wrong email or password.",
     "connection": "Username-Password-Authentication", "client_id": WEB, "client_name": "Example Shop",
     "ip": "203.0.113.99", "user_agent": FIREFOX, "details": {"error": {"message": "Wrong email or password."},
     "session_id": "Fp0SessionOfAnotherBrowser00000a2"}, "hostname": HOST, "user_id": USER, "user_name": "alice@example.com",
     "log_id": lid(15)},
    {"date": "2025-03-01T13:45:00", "type": "ssa", "description": "null",
     "client_id": "null", "client_name": "", "ip": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
     "user_agent": "null", "details": {"prompts": [{"name": "authenticate", "session_id": SESSION}]},
     "hostname": "null", "user_id": "null", "user_name": "-", "log_id": lid(16),
     "location_info": {"country_code": "", "city_name": "null", "latitude": 0, "longitude": 0}},
]

with open("management-api-logs.json", "w") as f:
    json.dump(records, f, indent=2, ensure_ascii=False)
    f.write("\n")


def stream_lid(n):
    return "900202503021200%041d" % n
lines = []
def add(obj, wrap=True):
    if wrap:
        obj = {"log_id": obj["log_id"], "data": obj}
    lines.append(json.dumps(obj, separators=(",", ":")))
add({"date": "2025-03-02T12:00:00.000Z", "type": "seacft", "description": "Authorization Code for Access Token",
     "client_id": "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA", "client_name": "Example Shop", "ip": "2001:db8::1",
     "user_agent": "node-fetch/1.0", "details": {"code": "*************************************Zt4",
     "access_token_jti": "c0ffee00-2222-4a2b-8c3d-000000000002"}, "hostname": HOST,
     "user_id": "auth0|65e1a7c0ffee00000000c003", "user_name": "carol@example.com",
     "audience": "https://api.example.com/", "scope": "openid read:orders", "log_id": stream_lid(1)})
add({"date": "2025-03-02T12:30:00.000Z", "type": "sertft", "description": "Refresh Token for Access Token",
     "client_id": "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA", "client_name": "Example Shop", "ip": "2001:db8::1",
     "user_agent": "ExampleShop/4.2 (iOS 18.3)", "details": {"familyId": "fam_Example0000000003", "tokenCounter": 1,
     "refresh_token": {"access": "offline", "session_id": "Cc0SessionOfCarol00000000000000a1"}},
     "hostname": HOST, "user_id": "auth0|65e1a7c0ffee00000000c003", "audience": "https://api.example.com/",
     "scope": "openid read:orders", "log_id": stream_lid(2)}, wrap=False)
lines.append("")
add({"type": "seacft", "client_id": "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA", "ip": "203.0.113.5",
     "hostname": HOST, "log_id": stream_lid(4)})
add({"date": "yesterday at noon", "type": "sertft", "ip": "203.0.113.5", "hostname": HOST, "log_id": stream_lid(5)})
lines.append('{"log_id":"' + stream_lid(6) + '","data":{"date":"2025-03-02T12:45:00.000Z","type":"s",')
add({"date": "2025-03-02T12:50:00.000Z", "type": 42, "ip": "203.0.113.5", "log_id": stream_lid(7)})
lines.append(json.dumps({"data": {"date": "2025-03-02T12:55:00.000Z", "type": "slo", "ip": "203.0.113.5",
     "details": {"session_id": "Cc0SessionOfCarol00000000000000a1"}}}, separators=(",", ":")))
add({"date": "2025-03-02T13:00:00.000Z", "type": "slo", "description": "", "client_id": "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA",
     "ip": "2001:db8::1", "details": {"return_to": "https://shop.example.com/"}, "hostname": HOST,
     "user_id": "auth0|65e1a7c0ffee00000000c003", "log_id": stream_lid(9)})
add({"date": "2025-03-02T13:05:00.000Z", "type": "sapi", "description": "Create a client", "ip": "203.0.113.50",
     "details": {}, "user_id": "auth0|65e1a7c0ffee00000000d004", "log_id": stream_lid(10)})
add({"date": "2025-03-02T13:10:00.000Z", "type": "fertft", "description": "Unknown or invalid refresh token.",
     "client_id": "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA", "ip": "192.0.2.66", "user_agent": "curl/8.5.0",
     "details": {}, "hostname": HOST, "user_id": "", "scope": "", "log_id": stream_lid(11)})
with open("log-stream.jsonl", "w") as f:
    f.write("\n".join(lines) + "\n")
