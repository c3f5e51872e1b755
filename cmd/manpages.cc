#include "cmd/manpages.h"

#include <algorithm>
#include <cstring>
#include <regex>
#include <sstream>

namespace pach::cmd {

const char *find_manpage(const std::string &name)
{
	for (const ManPage *p = kManPages; p->name; p++)
		if (name == p->name)
			return p->text;
	return nullptr;
}

namespace {

// Inline markup: *bold*, _emphasis_ and `code` lose their marks.
std::string plain(const std::string &line)
{
	static const std::regex bold(R"(\*([^*\s][^*]*?)\*)");
	static const std::regex emph(R"((^|[\s(])_([^_\s][^_]*?)_(?=[\s.,;:)]|$))");
	std::string s = std::regex_replace(line, bold, "$1");
	s = std::regex_replace(s, emph, "$1$2");
	s.erase(std::remove(s.begin(), s.end(), '`'), s.end());
	return s;
}

} // namespace

std::string render_manpage(const std::string &adoc)
{
	std::istringstream in(adoc);
	std::string line, out;
	bool in_body = false;
	while (std::getline(in, line)) {
		if (!line.empty() && line[0] == ':' && line.find(':', 1) != std::string::npos && !in_body)
			continue;   // document attributes
		if (line == "[verse]" || line == "----" || line == "...." || line == "|===" || line == "+" ||
		    line.compare(0, 6, "[cols=") == 0)
			continue;
		if (line.compare(0, 2, "= ") == 0) {
			std::string t = line.substr(2);
			for (auto &c : t)
				c = (char)toupper((unsigned char)c);
			out += t + "\n";
			continue;
		}
		if (line.compare(0, 3, "== ") == 0) {
			in_body = true;
			if (out.size() < 2 || out.compare(out.size() - 2, 2, "\n\n") != 0)
				out += "\n";
			out += line.substr(3) + "\n";
			continue;
		}
		if (!line.empty() && line[0] == '|') {
			// A table row: "|0 |success" -> "0    success".
			std::string row;
			for (size_t i = 1; i < line.size(); i++) {
				if (line[i] == '|' && i > 0 && line[i - 1] == ' ')
					row += "   ";
				else
					row += line[i];
			}
			out += "    " + plain(row) + "\n";
			continue;
		}
		if (line.size() > 2 && line.compare(line.size() - 2, 2, "::") == 0) {
			out += "    " + plain(line.substr(0, line.size() - 2)) + "\n";
			continue;
		}
		out += line.empty() ? "\n" : "    " + plain(line) + "\n";
	}
	return out;
}

} // namespace pach::cmd
