#include "plumbing/glob.h"

#include "plumbing/error.h"
#include "plumbing/tree.h"

namespace pach {

std::string clean_glob(const std::string &p)
{
	std::vector<std::string> parts;
	for_each_component(p, [&](const std::string &c) {
		if (c == "..") {
			if (!parts.empty())
				parts.pop_back();
		} else if (!c.empty() && c != ".") {
			parts.push_back(c);
		}
	});
	std::string out;
	for (auto &c : parts)
		out += "/" + c;
	return out.empty() ? "/" : out;
}

namespace {

struct Compiler {
	const std::string &p;
	size_t i = 0;
	bool has_group = false, has_globstar = false, has_brace = false;

	[[noreturn]] void bad(const std::string &why) { die("bad glob pattern '{}': {}", p, why); }

	static std::string esc(char c)
	{
		static const std::string meta = "\\^$.|?*+()[]{}";
		return meta.find(c) != std::string::npos ? std::string("\\") + c : std::string(1, c);
	}

	std::string cls()
	{
		// at '['
		std::string out = "[";
		i++;
		if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
			out += "^";
			i++;
		}
		bool first = true;
		while (i < p.size() && (p[i] != ']' || first)) {
			if (p.compare(i, 2, "[:") == 0) {
				size_t e = p.find(":]", i + 2);
				if (e == std::string::npos)
					bad("unterminated character class");
				out += p.substr(i, e + 2 - i);
				i = e + 2;
			} else if (p[i] == '\\' && i + 1 < p.size()) {
				out += "\\" + std::string(1, p[i + 1]);
				i += 2;
			} else {
				char c = p[i++];
				out += (c == '[' || c == '\\' || c == '^') ? std::string("\\") + c : std::string(1, c);
			}
			first = false;
		}
		if (i >= p.size())
			bad("unterminated '['");
		i++;
		// A class never matches '/'.
		return "(?:(?!/)" + out + "])";
	}

	// Compile until one of `stops` (at depth) or the end.
	std::string seq(const std::string &stops)
	{
		std::string out;
		while (i < p.size()) {
			char c = p[i];
			if (stops.find(c) != std::string::npos)
				return out;
			bool ext = i + 1 < p.size() && p[i + 1] == '(' && std::string("@*+?!").find(c) != std::string::npos;
			if (ext) {
				i += 2;
				has_group = true;
				std::string inner = alts();
				switch (c) {
				case '@': out += "(" + inner + ")"; break;
				case '*': out += "((?:" + inner + ")*)"; break;
				case '+': out += "((?:" + inner + ")+)"; break;
				case '?': out += "((?:" + inner + ")?)"; break;
				case '!': out += "((?!(?:" + inner + ")(?:/|$))[^/]*)"; break;
				}
			} else if (c == '(') {
				i++;
				has_group = true;
				out += "(" + alts() + ")";
			} else if (c == '*') {
				if (i + 1 < p.size() && p[i + 1] == '*') {
					has_globstar = true;
					while (i < p.size() && p[i] == '*')
						i++;
					out += ".*";
				} else {
					i++;
					out += "[^/]*";
				}
			} else if (c == '?') {
				i++;
				out += "[^/]";
			} else if (c == '[') {
				out += cls();
			} else if (c == '{') {
				i++;
				has_brace = true;
				std::string alt = "(?:";
				for (;;) {
					alt += seq(",}");
					if (i >= p.size())
						bad("unterminated '{'");
					if (p[i] == '}') {
						i++;
						break;
					}
					alt += "|";
					i++;
				}
				out += alt + ")";
			} else if (c == '\\' && i + 1 < p.size()) {
				out += esc(p[i + 1]);
				i += 2;
			} else if (c == ')' || c == '|') {
				if (stops.empty())
					bad(std::string("unexpected '") + c + "'");
				return out;
			} else {
				out += esc(c);
				i++;
			}
		}
		return out;
	}

	// Inside a group: alternatives up to the closing ')'.
	std::string alts()
	{
		std::string out;
		for (;;) {
			out += seq("|)");
			if (i >= p.size())
				bad("unterminated '('");
			if (p[i] == ')') {
				i++;
				return out;
			}
			out += "|";
			i++;
		}
	}
};

} // namespace

Glob::Glob(const std::string &pattern) : clean_(clean_glob(pattern))
{
	Compiler c{clean_};
	src_ = c.seq("");
	try {
		re_ = std::regex(src_, std::regex::ECMAScript | std::regex::optimize);
	} catch (const std::regex_error &e) {
		die("bad glob pattern '{}': {}", pattern, e.what());
	}
	if (!c.has_globstar && !c.has_group && !c.has_brace) {
		max_depth_ = 0;
		if (clean_ != "/")
			for (char ch : clean_)
				max_depth_ += ch == '/';
	}
}

bool Glob::match(const std::string &path, std::vector<std::string> *groups) const
{
	// The root is a datum only of the pattern "/" itself (Pachyderm never
	// lets "*" or "**" match it).
	if (path == "/" && clean_ != "/")
		return false;
	std::smatch m;
	if (!std::regex_match(path, m, re_))
		return false;
	if (groups) {
		groups->clear();
		for (size_t k = 0; k < m.size(); k++)
			groups->push_back(m[k].str());
	}
	return true;
}

std::string Glob::expand(const std::string &t, const std::vector<std::string> &g)
{
	std::string out;
	for (size_t i = 0; i < t.size(); i++) {
		if (t[i] != '$' || i + 1 >= t.size()) {
			out += t[i];
			continue;
		}
		if (t[i + 1] == '$') {
			out += '$';
			i++;
			continue;
		}
		size_t j = i + 1;
		bool brace = t[j] == '{';
		if (brace)
			j++;
		size_t k = j;
		while (k < t.size() && isdigit((unsigned char)t[k]))
			k++;
		if (k == j || (brace && (k >= t.size() || t[k] != '}'))) {
			out += t[i];
			continue;
		}
		size_t n = std::stoul(t.substr(j, k - j));
		if (n < g.size())
			out += g[n];
		i = brace ? k : k - 1;
	}
	return out;
}

} // namespace pach
