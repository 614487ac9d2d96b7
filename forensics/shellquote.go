package forensics

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// shellQuote returns s as one shell word that reads back as exactly s.
//
// A word of safe characters stays bare, and other printable text is
// single-quoted, which every POSIX shell reads the same way. A value with a
// character that strconv.IsPrint rejects (a control or format character, or
// a byte that is not UTF-8) gets ANSI-C quoting, $'...', with each byte of
// such a character written as \xHH. Raw inside single quotes, such a byte
// would break the command's line, act on the responder's terminal, or be
// escaped by the text report, and the pasted command would then name a
// different value.
//
// NOTE: ANSI-C quoting is a bash and zsh feature (see "ANSI-C Quoting" in
// the bash manual; checked with bash 5.2). dash 0.5.12, /bin/sh on Debian,
// reads $'a\nb' as the text $a\nb, so such a command must be pasted into
// bash or zsh. revoke then warns that no event of the mangled value is
// stored. s must not contain NUL, which no argument can carry (hasNUL).
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	if printable(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}

	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError && size == 1, !strconv.IsPrint(r):
			// Two hex digits always: bash reads at most two after \x, so
			// a hex digit that follows stays a character of its own.
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}

// printable reports whether s is valid UTF-8 of characters that
// strconv.IsPrint accepts, so that it prints as it is.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) < 0
}

// hasNUL reports whether s contains a NUL character, which a command-line
// argument cannot carry because the kernel passes arguments as C strings.
func hasNUL(s string) bool {
	return strings.IndexByte(s, 0) >= 0
}
