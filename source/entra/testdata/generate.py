# Writes the synthetic test data of the entra importer, which README.md
# describes: diagnostic-records.json, graph-api-signins.json and
# log-analytics-export.json. Run it in this folder: python3 generate.py
import json

TENANT = "0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b"
USER = "5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b"
APP_AZCLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the public client id of the Azure CLI
GRAPH = "00000003-0000-0000-c000-000000000000"  # the public application id of Microsoft Graph
UTI = "q3JmXv8a0EuYc1tLw5nR2A"
SESSION = "7c1d9e3a-2b6f-4c8e-a5d0-9f4b1e7a3c62"

def location(city, country, lat, lon):
    return {"city": city, "state": "", "countryOrRegion": country,
            "geoCoordinates": {"latitude": lat, "longitude": lon}}

def signin_props(**kw):
    p = {
        "id": kw["id"],
        "createdDateTime": kw["created"],
        "userDisplayName": "Ada Example",
        "userPrincipalName": "ada@example.com",
        "userId": USER,
        "appId": APP_AZCLI,
        "appDisplayName": "Microsoft Azure CLI",
        "ipAddress": kw.get("ip", "203.0.113.45"),
        "status": kw.get("status", {"errorCode": 0}),
        "clientAppUsed": "Mobile Apps and Desktop clients",
        "userAgent": kw.get("ua", "python/3.12.4 (Linux-6.8.0-x86_64) msal/1.31.0 azure-cli/2.66.0"),
        "location": kw.get("location", location("Lyon", "FR", 45.7485, 4.8467)),
        "correlationId": kw["correlation"],
        "conditionalAccessStatus": kw.get("ca", "success"),
        "isInteractive": kw.get("interactive", True),
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": GRAPH,
        "servicePrincipalId": "",
        "autonomousSystemNumber": 64500,
        "uniqueTokenIdentifier": kw["uti"],
        "incomingTokenType": kw.get("incoming", "none"),
        "authenticationProtocol": kw.get("protocol", "none"),
        "clientCredentialType": "none",
        "sessionId": kw.get("session", SESSION),
    }
    p.update(kw.get("extra", {}))
    return p

def signin_record(category, props, when):
    return {
        "time": when,
        "resourceId": "/tenants/%s/providers/Microsoft.aadiam" % TENANT,
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": category,
        "tenantId": TENANT,
        "resultType": str(props["status"]["errorCode"]),
        "resultSignature": "None",
        "durationMs": 0,
        "callerIpAddress": props["ipAddress"],
        "correlationId": props["correlationId"],
        "identity": "Ada Example",
        "Level": 4,
        "location": "FR",
        "properties": props,
    }

def graph_record(request_id, when, method, uri, status, ua, ip, extra=None):
    p = {
        "timeGenerated": when,
        "location": "West Europe",
        "requestId": request_id,
        "operationId": request_id,
        "clientRequestId": "c0ffee00-1111-4222-8333-444455556666",
        "apiVersion": "v1.0",
        "requestMethod": method,
        "responseStatusCode": status,
        "tenantId": TENANT,
        "durationMs": 118204,
        "responseSizeBytes": 2114,
        "signInActivityId": UTI,
        "roles": "",
        "appId": APP_AZCLI,
        "UserPrincipalObjectID": USER,
        "scopes": "Application.ReadWrite.All Directory.AccessAsUser.All User.Read",
        "identityProvider": "https://sts.windows.net/%s/" % TENANT,
        "clientAuthMethod": "0",
        "wids": "",
        "C_Idtyp": "user",
        "C_Iat": "1741338367",
        "ipAddress": ip,
        "userAgent": ua,
        "requestUri": uri,
        "atContentP": "",
        "atContentH": "",
        "C_Sid": SESSION,
        "C_DeviceId": "",
        "userId": USER,
        "tokenIssuedAt": "2025-03-07T09:06:07Z",
    }
    if extra:
        p.update(extra)
    return {
        "time": when,
        "resourceId": "/TENANTS/%s/PROVIDERS/MICROSOFT.AADIAM" % TENANT.upper(),
        "operationName": "Microsoft Graph Activity",
        "operationVersion": "v1.0",
        "category": "MicrosoftGraphActivityLogs",
        "resultSignature": str(status),
        "durationMs": "118204",
        "callerIpAddress": ip,
        "correlationId": request_id,
        "level": "Informational",
        "location": "West Europe",
        "properties": p,
        "tenantId": TENANT,
    }

signin = signin_props(id="3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90", created="2025-03-07T09:06:07.4411027+00:00",
                      correlation="a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81", uti=UTI, protocol="deviceCode")
blocked = signin_props(id="8d2f4a6c-1e3b-4d5f-a7c9-0b2d4f6a8c13", created="2025-03-07T09:01:42.1180335+00:00",
                       correlation="a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81", uti="Vb9pQ2s4rEKnT6uW8yZ0aQ",
                       status={"errorCode": 53003, "failureReason": "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."},
                       ca="failure", ip="::ffff:198.51.100.23", location={"city": "", "state": "", "countryOrRegion": "", "geoCoordinates": {}})
refresh = signin_props(id="c5a7e9b1-3d5f-4a7c-9e1b-3d5f7a9c1e24", created="2025-03-07T10:05:13.0000000Z",
                       correlation="f1e3d5c7-b9a1-4c3e-8f5d-7b9d1f3a5c68", uti="HkT3mW9qPUi5cVx7bNz1Aw",
                       incoming="refreshToken", interactive=False, ip="2001:db8:4f::1e", ua="null",
                       location={"city": "Lyon", "state": "", "countryOrRegion": "FR", "geoCoordinates": {"latitude": 0.0, "longitude": 0.0}})
records = {"records": [
    signin_record("SignInLogs", signin, "2025-03-07T09:08:31.9920412Z"),
    graph_record("6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42", "2025-03-07T09:07:15.5123408Z", "GET",
                 "https://graph.microsoft.com/v1.0/me?$select=id,displayName", 200,
                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36", "203.0.113.45"),
    graph_record("9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f65", "2025-03-07T09:12:48.0071163Z", "POST",
                 "https://graph.microsoft.com/v1.0/applications/2a4c6e8f-0b1d-4f3a-9c5e-7a9b1d3f5c70/addPassword", 403,
                 "python-requests/2.32.3", "192.0.2.199"),
    signin_record("SignInLogs", blocked, "2025-03-07T09:03:10.7734120Z"),
    signin_record("NonInteractiveUserSignInLogs", refresh, "2025-03-07T10:07:40.3310975Z"),
    {"time": "2025-03-07T09:30:00.1234567Z", "category": "AuditLogs", "operationName": "Add service principal credentials",
     "tenantId": TENANT, "resultType": "success", "properties": {"id": "Directory_0b2d4f6a-8c0e-4a2c-9e4b-6d8f0a2c4e86", "activityDisplayName": "Add service principal credentials"}},
]}
with open("diagnostic-records.json", "w") as f:
    json.dump(records, f, indent=2)
    f.write("\n")

# A page of /beta/auditLogs/signIns: the first item is the sign-in of
# diagnostic-records.json as the API returns it.
api_signin = dict(signin)
api_signin["signInEventTypes"] = ["interactiveUser"]
api_signin["createdDateTime"] = "2025-03-07T09:06:07.4411027Z"
del api_signin["clientCredentialType"]
sp = {
    "id": "e2a4c6e8-0a2c-4e6a-8c0e-2a4c6e8a0c35",
    "createdDateTime": "2025-03-07T11:20:05Z",
    "userDisplayName": None, "userPrincipalName": None, "userId": "",
    "appId": "6d8f0b2d-4f6a-4c8e-a0b2-d4f6a8c0e247",
    "appDisplayName": "nightly-export",
    "ipAddress": "198.51.100.77",
    "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None},
    "userAgent": "",
    "location": {"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL", "geoCoordinates": {"altitude": None, "latitude": 52.3740, "longitude": 4.8897}},
    "correlationId": "b6d8f0a2-c4e6-4a8c-8e0a-2c4e6a8c0e59",
    "conditionalAccessStatus": "notApplied",
    "isInteractive": False,
    "resourceDisplayName": "Azure Key Vault",
    "resourceId": "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
    "servicePrincipalId": "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71",
    "servicePrincipalName": "nightly-export",
    "uniqueTokenIdentifier": "Zx8cV7bN6mQ5wE4rT3yU2A",
    "incomingTokenType": "none",
    "authenticationProtocol": "none",
    "clientCredentialType": "certificate",
    "signInEventTypes": ["servicePrincipal"],
    "sessionId": "",
}
failed = {
    "id": "1a3c5e7a-9c1e-4a3c-8e5a-7c9e1a3c5e82",
    "createdDateTime": "2025-03-07T12:44:19.3310000Z",
    "userDisplayName": "Ada Example", "userPrincipalName": "ada@example.com", "userId": USER,
    "appId": APP_AZCLI, "appDisplayName": "Microsoft Azure CLI",
    "ipAddress": "203.0.113.45",
    "status": {"errorCode": 50074, "failureReason": "Strong Authentication is required.", "additionalDetails": "The user is required to complete multi-factor authentication."},
    "userAgent": "python/3.12.4 (Linux-6.8.0-x86_64) msal/1.31.0 azure-cli/2.66.0",
    "location": {"city": "Lyon", "state": "", "countryOrRegion": "FR", "geoCoordinates": {"latitude": 45.7485, "longitude": 4.8467}},
    "correlationId": "d8f0a2c4-e6a8-4c0e-8a2c-4e6a8c0e2a93",
    "conditionalAccessStatus": "notApplied",
    "isInteractive": True,
    "resourceDisplayName": "Microsoft Graph", "resourceId": GRAPH,
    "uniqueTokenIdentifier": "Ny4mB3vC2xZ1aS0dF9gH8w",
    "incomingTokenType": "none", "authenticationProtocol": "none",
    "signInEventTypes": ["interactiveUser"],
    "sessionId": SESSION,
}
page = {
    "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns",
    "value": [api_signin, sp, failed],
    "@odata.nextLink": "https://graph.microsoft.com/beta/auditLogs/signIns?$skiptoken=3e8b1f6c",
}
with open("graph-api-signins.json", "w") as f:
    json.dump(page, f, indent=2)
    f.write("\n")

# The result of a Log Analytics query, exported as a JSON array with one
# object per row: rows of the SigninLogs, AADNonInteractiveUserSignInLogs,
# AADServicePrincipalSignInLogs, MicrosoftGraphActivityLogs and AuditLogs
# tables, as they are stored in a Microsoft Sentinel workspace.
# Most rows are the diagnostic records above in the tables' PascalCase
# columns, so that a test can check that both shapes give the same events.
WORKSPACE = "9a1b3c5d-7e9f-4a1b-8c3d-5e7f9a1b3c5d"  # made up: TenantId is the workspace, not the tenant

def log_analytics_time(s):
    return s.replace("+00:00", "Z")

def signin_row(table, rec, dynamic_as_text=False):
    p = rec["properties"]
    dynamic = (lambda v: json.dumps(v, separators=(",", ":"))) if dynamic_as_text else (lambda v: v)
    return {
        "TenantId": WORKSPACE,
        "SourceSystem": "Azure AD",
        "TimeGenerated": rec["time"],
        "ResourceId": rec["resourceId"],
        "OperationName": rec["operationName"],
        "OperationVersion": rec["operationVersion"],
        "Category": rec["category"],
        "ResultType": rec["resultType"],
        "ResultSignature": rec["resultSignature"],
        "ResultDescription": p["status"].get("failureReason", ""),
        "DurationMs": "0",
        "CorrelationId": p["correlationId"],
        "Identity": rec["identity"],
        "Level": str(rec["Level"]),
        "Location": p["location"]["countryOrRegion"],
        "AADTenantId": TENANT,
        "AppDisplayName": p["appDisplayName"],
        "AppId": p["appId"],
        "AuthenticationProtocol": p["authenticationProtocol"],
        "AutonomousSystemNumber": str(p["autonomousSystemNumber"]),
        "ClientAppUsed": p["clientAppUsed"],
        "ClientCredentialType": p["clientCredentialType"],
        "ConditionalAccessStatus": p["conditionalAccessStatus"],
        "CreatedDateTime": log_analytics_time(p["createdDateTime"]),
        "Id": p["id"],
        "IncomingTokenType": p["incomingTokenType"],
        "IPAddress": p["ipAddress"],
        "IsInteractive": p["isInteractive"],
        "LocationDetails": dynamic(p["location"]),
        "ResourceDisplayName": p["resourceDisplayName"],
        "ResourceIdentity": p["resourceId"],
        "ServicePrincipalId": p["servicePrincipalId"],
        "SessionId": p["sessionId"],
        "Status": dynamic(p["status"]),
        "UniqueTokenIdentifier": p["uniqueTokenIdentifier"],
        "UserAgent": p["userAgent"],
        "UserDisplayName": p["userDisplayName"],
        "UserId": p["userId"],
        "UserPrincipalName": p["userPrincipalName"],
        "Type": table,
    }

def graph_row(rec):
    p = rec["properties"]
    return {
        "TenantId": WORKSPACE,
        "TimeGenerated": rec["time"],
        "Location": p["location"],
        "RequestId": p["requestId"],
        "OperationId": p["operationId"],
        "ClientRequestId": p["clientRequestId"],
        "ApiVersion": p["apiVersion"],
        "RequestMethod": p["requestMethod"],
        "ResponseStatusCode": p["responseStatusCode"],
        "AadTenantId": TENANT,
        "IPAddress": p["ipAddress"],
        "UserAgent": p["userAgent"],
        "RequestUri": p["requestUri"],
        "DurationMs": p["durationMs"],
        "ResponseSizeBytes": p["responseSizeBytes"],
        "SignInActivityId": p["signInActivityId"],
        "Roles": p["roles"],
        "TokenIssuedAt": p["tokenIssuedAt"],
        "AppId": p["appId"],
        "UserId": p["userId"],
        "ServicePrincipalId": "",
        "Scopes": p["scopes"],
        "IdentityProvider": p["identityProvider"],
        "ClientAuthMethod": int(p["clientAuthMethod"]),
        "Wids": p["wids"],
        "SessionId": p["C_Sid"],
        "DeviceId": p["C_DeviceId"],
        "SourceSystem": "Azure",
        "Type": "MicrosoftGraphActivityLogs",
    }

def service_principal_row(**kw):
    # The service-principal table has no Status, SessionId or user columns.
    return {
        "TenantId": WORKSPACE,
        "SourceSystem": "Azure AD",
        "TimeGenerated": kw["time"],
        "OperationName": "Sign-in activity",
        "OperationVersion": "1.0",
        "Category": "ServicePrincipalSignInLogs",
        "ResultType": kw["result"],
        "ResultSignature": "SUCCESS" if kw["result"] == "0" else "None",
        "ResultDescription": kw.get("description", ""),
        "DurationMs": "0",
        "CorrelationId": kw["correlation"],
        "Identity": "nightly-export",
        "Level": "4",
        "Location": "NL",
        "AADTenantId": TENANT,
        "AppId": "6d8f0b2d-4f6a-4c8e-a0b2-d4f6a8c0e247",
        "AutonomousSystemNumber": "64501",
        "ClientCredentialType": "clientSecret",
        "ConditionalAccessStatus": "notApplied",
        "Id": kw["id"],
        "IPAddress": kw["ip"],
        "LocationDetails": json.dumps({"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL",
                                       "geoCoordinates": {"latitude": 52.374, "longitude": 4.8897}}, separators=(",", ":")),
        "ResourceDisplayName": "Azure Key Vault",
        "ResourceIdentity": "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
        "ServicePrincipalId": "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71",
        "ServicePrincipalName": "nightly-export",
        "UniqueTokenIdentifier": kw["uti"],
        "Type": "AADServicePrincipalSignInLogs",
    }

diagnostic = records["records"]
rows = [
    signin_row("SigninLogs", diagnostic[0]),
    graph_row(diagnostic[1]),
    graph_row(diagnostic[2]),
    signin_row("SigninLogs", diagnostic[3], dynamic_as_text=True),
    signin_row("AADNonInteractiveUserSignInLogs", diagnostic[4], dynamic_as_text=True),
    service_principal_row(id="f3b5d7f9-1b3d-4f5b-9d7f-1b3d5f7b9d02", time="2025-03-07T11:31:44.2071938Z", result="0",
                          correlation="c7e9a1c3-e5a7-4c9e-a1c3-e5a7c9e1a304", ip="198.51.100.77", uti="Pq7rS6tU5vW4xY3zA2bC1d"),
    service_principal_row(id="0a2c4e6a-8c0e-4a2c-8e4a-6c8e0a2c4e15", time="2025-03-07T11:35:02.9144310Z", result="7000215",
                          description="Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                          correlation="e9a1c3e5-a7c9-4e1a-83e5-a7c9e1a3c526", ip="198.51.100.78", uti="Rs9tU8vW7xY6zA5bC4dE3f"),
    {"TenantId": WORKSPACE, "SourceSystem": "Azure AD", "TimeGenerated": "2025-03-07T09:30:00.1234567Z", "Category": "Core Directory",
     "OperationName": "Add service principal credentials", "Result": "success", "Id": "Directory_0b2d4f6a-8c0e-4a2c-9e4b-6d8f0a2c4e86",
     "Type": "AuditLogs"},
]
with open("log-analytics-export.json", "w") as f:
    json.dump(rows, f, indent=2)
    f.write("\n")
