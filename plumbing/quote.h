// Names from data made safe to print.  A tree entry, ref or file name may
// hold any byte but NUL and '/': a newline in a name must not forge an
// output line, an escape sequence must not reach the terminal, and JSON
// must stay valid JSON.
#pragma once

#include <string>
#include <string_view>

namespace pach {

// git's core.quotePath style: returned as is when every byte is printable
// ASCII other than '"' and '\\'; otherwise in double quotes with C escapes
// (\n, \t, \", \\, and \ooo octal for other control bytes and for every
// byte >= 0x80, as git does by default).
std::string quote_path(std::string_view s);
bool needs_quoting(std::string_view s);

// A JSON string literal (with its quotes).  Valid UTF-8 passes through;
// each byte that is not part of a valid UTF-8 sequence comes out as
// \udc80..\udcff (the "surrogateescape" convention: Python's
// json.loads(x).encode('utf-8', 'surrogateescape') gives the bytes back).
std::string json_string(std::string_view s);
bool valid_utf8(std::string_view s);

// A URL with any credentials typed into it ("scheme://user:secret@host")
// replaced by "scheme://***@host", for every message and listing.
std::string redact_url(std::string_view url);
bool url_has_credentials(std::string_view url);

} // namespace pach
