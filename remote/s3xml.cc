#include "remote/s3xml.h"

#include <cstring>

namespace pach::remote {

std::string xml_unescape(const std::string &s)
{
	std::string o;
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '&') {
			o += s[i];
			continue;
		}
		static const std::pair<const char *, char> ents[] = {
			{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&#34;", '"'}};
		bool done = false;
		for (auto &[e, c] : ents)
			if (s.compare(i, strlen(e), e) == 0) {
				o += c;
				i += strlen(e) - 1;
				done = true;
				break;
			}
		if (!done)
			o += '&';
	}
	return o;
}

std::string xml_escape(const std::string &s)
{
	std::string o;
	for (char c : s)
		o += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;" : std::string(1, c);
	return o;
}

// Every <tag>...</tag> in text, in order.
std::vector<std::string> xml_all(const std::string &text, const std::string &tag)
{
	std::vector<std::string> out;
	std::string open = "<" + tag + ">", close = "</" + tag + ">";
	size_t i = 0;
	for (;;) {
		size_t a = text.find(open, i);
		if (a == std::string::npos)
			return out;
		size_t b = text.find(close, a);
		if (b == std::string::npos)
			return out;
		out.push_back(text.substr(a + open.size(), b - a - open.size()));
		i = b + close.size();
	}
}

std::string xml_one(const std::string &text, const std::string &tag)
{
	auto v = xml_all(text, tag);
	return v.empty() ? "" : xml_unescape(v[0]);
}

} // namespace pach::remote
