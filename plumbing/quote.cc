#include "plumbing/quote.h"

#include <cstdint>
#include <cstdio>

namespace pach {

bool needs_quoting(std::string_view s)
{
	for (unsigned char c : s)
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			return true;
	return false;
}

std::string quote_path(std::string_view s)
{
	if (!needs_quoting(s))
		return std::string(s);
	std::string o = "\"";
	for (unsigned char c : s) {
		switch (c) {
		case '"': o += "\\\""; break;
		case '\\': o += "\\\\"; break;
		case '\n': o += "\\n"; break;
		case '\t': o += "\\t"; break;
		case '\r': o += "\\r"; break;
		case '\a': o += "\\a"; break;
		case '\b': o += "\\b"; break;
		case '\f': o += "\\f"; break;
		case '\v': o += "\\v"; break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				char b[8];
				snprintf(b, sizeof b, "\\%03o", c);
				o += b;
			} else {
				o += (char)c;
			}
		}
	}
	return o + "\"";
}

// Length of the valid UTF-8 sequence at s[i] (0: not valid).  Overlong
// forms, surrogates and code points above U+10FFFF are not valid.
static size_t utf8_len(std::string_view s, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		n = 2, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 3, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (i + n > s.size())
		return 0;
	for (size_t k = 1; k < n; k++) {
		unsigned char d = (unsigned char)s[i + k];
		if ((d & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (d & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool valid_utf8(std::string_view s)
{
	for (size_t i = 0; i < s.size();) {
		size_t n = utf8_len(s, i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

std::string json_string(std::string_view s)
{
	std::string o;
	o.reserve(s.size() + 2);
	o += '"';
	for (size_t i = 0; i < s.size();) {
		unsigned char c = (unsigned char)s[i];
		size_t n = utf8_len(s, i);
		if (n > 1) {
			o.append(s.data() + i, n);
			i += n;
			continue;
		}
		i++;
		char b[8];
		if (!n) {
			snprintf(b, sizeof b, "\\udc%02x", c);
			o += b;
			continue;
		}
		switch (c) {
		case '"': o += "\\\""; break;
		case '\\': o += "\\\\"; break;
		case '\n': o += "\\n"; break;
		case '\t': o += "\\t"; break;
		case '\r': o += "\\r"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(b, sizeof b, "\\u%04x", c);
				o += b;
			} else {
				o += (char)c;
			}
		}
	}
	return o + '"';
}

// The userinfo of scheme://[userinfo@]host/...: from after "://" to the
// last '@' before the first '/', '?' or '#'.
static size_t userinfo_end(std::string_view url, size_t *start)
{
	size_t sch = url.find("://");
	if (sch == std::string_view::npos)
		return std::string_view::npos;
	*start = sch + 3;
	size_t end = url.find_first_of("/?#", *start);
	std::string_view auth = url.substr(*start, end == std::string_view::npos ? std::string_view::npos : end - *start);
	size_t at = auth.rfind('@');
	return at == std::string_view::npos ? std::string_view::npos : *start + at;
}

bool url_has_credentials(std::string_view url)
{
	size_t start;
	return userinfo_end(url, &start) != std::string_view::npos;
}

std::string redact_url(std::string_view url)
{
	size_t start;
	size_t at = userinfo_end(url, &start);
	if (at == std::string_view::npos)
		return std::string(url);
	return std::string(url.substr(0, start)) + "***" + std::string(url.substr(at));
}

} // namespace pach
