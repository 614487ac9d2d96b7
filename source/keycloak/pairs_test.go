package keycloak

import (
	"errors"
	"reflect"
	"testing"
)

func TestParsePairs(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want map[string]string
	}{
		{
			name: "unquoted keycloak 15",
			msg:  "type=CODE_TO_TOKEN, realmId=test, userId=null, token_id=561459c0",
			want: map[string]string{"type": "CODE_TO_TOKEN", "realmId": "test", "userId": "null", "token_id": "561459c0"},
		},
		{
			name: "unquoted value with spaces",
			msg:  "type=LOGIN_ERROR, realmId=ABCD TEST, clientId=https://www.example.com/shibboleth",
			want: map[string]string{"type": "LOGIN_ERROR", "realmId": "ABCD TEST", "clientId": "https://www.example.com/shibboleth"},
		},
		{
			name: "unquoted value with equals and comma",
			msg:  "redirect_uri=https://a.example/cb?x=1,2&y=3, code_id=c",
			want: map[string]string{"redirect_uri": "https://a.example/cb?x=1,2&y=3", "code_id": "c"},
		},
		{
			name: "single-quoted detail with spaces",
			msg:  "type=CODE_TO_TOKEN, scope='openid email profile', code_id=c",
			want: map[string]string{"type": "CODE_TO_TOKEN", "scope": "openid email profile", "code_id": "c"},
		},
		{
			name: "single-quoted detail with a stray quote",
			msg:  "reason='it's gone', code_id=c",
			want: map[string]string{"reason": "it's gone", "code_id": "c"},
		},
		{
			name: "quoted keycloak 24",
			msg:  `type="LOGIN", realmId="f16e", scope="openid email profile"`,
			want: map[string]string{"type": "LOGIN", "realmId": "f16e", "scope": "openid email profile"},
		},
		{
			name: "escaped quotes around the value",
			msg:  `realmName="\"master\"", clientId="c"`,
			want: map[string]string{"realmName": `"master"`, "clientId": "c"},
		},
		{
			name: "escaped quotes with equals and comma inside",
			msg:  `clientId="\"security=admin=console,test1\"", userId="u"`,
			want: map[string]string{"clientId": `"security=admin=console,test1"`, "userId": "u"},
		},
		{
			name: "comma and key inside quotes",
			msg:  `reason="a, token_id=fake", token_id="real"`,
			want: map[string]string{"reason": "a, token_id=fake", "token_id": "real"},
		},
		{
			name: "backslash not before a quote stays",
			msg:  `path="C:\temp\x", id="1"`,
			want: map[string]string{"path": `C:\temp\x`, "id": "1"},
		},
		{
			name: "escaped quote before a pair stays in the value",
			msg:  `path="C:\temp\", id="1"`,
			want: map[string]string{"path": `C:\temp", id="1`},
		},
		{
			name: "injected pair stays in the value",
			msg:  `username="x\", token_id=\"fake", token_id="real"`,
			want: map[string]string{"username": `x", token_id="fake`, "token_id": "real"},
		},
		{
			name: "quote followed by text stays in the value",
			msg:  `type="LOGIN"x, userId="u"`,
			want: map[string]string{"type": `LOGIN"x, userId="u`},
		},
		{
			name: "last value ending in a backslash",
			msg:  `id="1", path="dir\"`,
			want: map[string]string{"id": "1", "path": `dir\`},
		},
		{
			name: "single quote as configured quote character",
			msg:  `type='LOGIN', userId='o\'brien'`,
			want: map[string]string{"type": "LOGIN", "userId": "o'brien"},
		},
		{
			name: "whole message escaped by a shipper",
			msg:  `type=\"LOGOUT\", realmId=\"r\", redirect_uri=\"https://e.example/a\"`,
			want: map[string]string{"type": "LOGOUT", "realmId": "r", "redirect_uri": "https://e.example/a"},
		},
		{
			name: "whole message escaped with an escaped inner quote",
			msg:  `type=\"LOGIN\", realmName=\"\\\"m\\\"\"`,
			want: map[string]string{"type": "LOGIN", "realmName": `"m"`},
		},
		{
			name: "empty values",
			msg:  `type=LOGIN, error=, reason="", code_id=c`,
			want: map[string]string{"type": "LOGIN", "error": "", "reason": "", "code_id": "c"},
		},
		{
			name: "trailing comma and spaces",
			msg:  "  type=LOGIN, code_id=c,  ",
			want: map[string]string{"type": "LOGIN", "code_id": "c"},
		},
		{
			name: "no space after comma",
			msg:  `type="LOGIN",userId="u"`,
			want: map[string]string{"type": "LOGIN", "userId": "u"},
		},
		{
			name: "keys with dots and dashes",
			msg:  "type=LOGIN, custom.attr-1=x",
			want: map[string]string{"type": "LOGIN", "custom.attr-1": "x"},
		},
		{
			name: "same key twice with the same value",
			msg:  "type=LOGIN, code_id=c, code_id=c",
			want: map[string]string{"type": "LOGIN", "code_id": "c"},
		},
		{
			name: "unicode value",
			msg:  `username="jürgen", realmName="体育"`,
			want: map[string]string{"username": "jürgen", "realmName": "体育"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePairs(tt.msg)
			if err != nil {
				t.Fatalf("parsePairs(%q) error = %v, want nil", tt.msg, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePairs(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

func TestParsePairsErrors(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		want    error
		wantMsg string
	}{
		{name: "unterminated quote", msg: `type="LOGIN, userId=u`, want: errUnterminatedQuote, wantMsg: "value of type at byte 5: quoted value is not closed"},
		{name: "unterminated at the end", msg: `type="LOGIN", userId="u`, want: errUnterminatedQuote},
		{name: "no key", msg: `=LOGIN`, want: errMissingKey, wantMsg: "at byte 0: missing key= at the start of a pair"},
		{name: "key without equals", msg: `type`, want: errMissingKey},
		{name: "text before the key", msg: `"type"=LOGIN`, want: errMissingKey},
		{name: "conflicting duplicate", msg: `token_id=a, token_id=b`, want: errDuplicateKey, wantMsg: "value of token_id at byte 12: key appears twice with different values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePairs(tt.msg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("parsePairs(%q) = %q, %v, want error %v", tt.msg, got, err, tt.want)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("parsePairs(%q) error = %q, want %q", tt.msg, err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestStartsWithPair(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{name: "user event", text: "type=LOGIN", want: true},
		{name: "admin event", text: `operationType="CREATE"`, want: true},
		{name: "empty", text: "", want: false},
		{name: "key only", text: "type", want: false},
		{name: "listener marker", text: `JSON_EVENT::{"type":"LOGIN"}`, want: false},
		{name: "sentence", text: "Added user 'admin' to realm 'master'", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := startsWithPair(tt.text); got != tt.want {
				t.Errorf("startsWithPair(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
