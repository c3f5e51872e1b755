#include "plumbing/glob.h"

#include "plumbing/error.h"
#include "plumbing/tree.h"

#include <cstring>

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

// A pattern is parsed into a small tree, compiled to a program for a
// backtracking matcher that never visits the same (instruction, position)
// twice (RE2's "bit state", Go's backtrack.go): the first match it finds is
// the one a Perl/ECMAScript regex finds -- same capture groups -- but the
// time is at most program size x path length, whatever the pattern.  The
// pattern's nesting is bounded, so parsing recursion is too.
struct Glob::Node {
	enum Kind { lit, cls, seq, alt, group, star, plus, opt, notc } kind = seq;
	unsigned char c = 0;
	std::array<bool, 256> set{};
	std::vector<Node> kids;
	int cap = -1;
};

namespace {

constexpr int kMaxNesting = 32;
constexpr size_t kMaxPattern = 4096;

using Node = Glob::Node;

Node lit(unsigned char c)
{
	Node n;
	n.kind = Node::lit;
	n.c = c;
	return n;
}
Node any_but_slash()
{
	Node n;
	n.kind = Node::cls;
	n.set.fill(true);
	n.set['/'] = false;
	return n;
}
Node any_at_all()
{
	Node n;
	n.kind = Node::cls;
	n.set.fill(true);
	return n;
}
Node wrap(Node::Kind k, Node child)
{
	Node n;
	n.kind = k;
	n.kids.push_back(std::move(child));
	return n;
}

struct Parser {
	const std::string &p;
	size_t i = 0;
	int caps = 0, depth = 0;
	bool has_group = false, has_globstar = false, has_brace = false;

	[[noreturn]] void bad(const std::string &why) { die("bad glob pattern '{}': {}", p, why); }

	void posix_class(const std::string &name, std::array<bool, 256> &set)
	{
		int (*fn)(int) = nullptr;
		static const std::pair<const char *, int (*)(int)> k[] = {
			{"alpha", isalpha}, {"digit", isdigit}, {"alnum", isalnum}, {"upper", isupper},
			{"lower", islower}, {"space", isspace}, {"punct", ispunct}, {"xdigit", isxdigit},
			{"print", isprint}, {"graph", isgraph}, {"cntrl", iscntrl}, {"blank", isblank}};
		for (auto &[n, f] : k)
			if (name == n)
				fn = f;
		if (!fn)
			bad("unknown character class '[:" + name + ":]'");
		for (int c = 0; c < 128; c++)
			if (fn(c))
				set[(size_t)c] = true;
	}

	Node cls()
	{
		// at '['
		Node n;
		n.kind = Node::cls;
		i++;
		bool negate = false;
		if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
			negate = true;
			i++;
		}
		bool first = true;
		int prev = -1;
		while (i < p.size() && (p[i] != ']' || first)) {
			first = false;
			if (p.compare(i, 2, "[:") == 0) {
				size_t e = p.find(":]", i + 2);
				if (e == std::string::npos)
					bad("unterminated character class");
				posix_class(p.substr(i + 2, e - i - 2), n.set);
				i = e + 2;
				prev = -1;
				continue;
			}
			unsigned char c;
			if (p[i] == '\\' && i + 1 < p.size()) {
				c = (unsigned char)p[i + 1];
				i += 2;
			} else {
				c = (unsigned char)p[i++];
			}
			if (c == '-' && prev >= 0 && i < p.size() && p[i] != ']') {
				unsigned char hi = (unsigned char)p[i];
				if (hi == '\\' && i + 1 < p.size())
					hi = (unsigned char)p[++i];
				i++;
				if (hi < prev)
					bad("bad range in '[...]'");
				for (int k = prev; k <= hi; k++)
					n.set[(size_t)k] = true;
				prev = -1;
				continue;
			}
			n.set[c] = true;
			prev = c;
		}
		if (i >= p.size())
			bad("unterminated '['");
		i++;
		if (negate)
			for (auto &b : n.set)
				b = !b;
		n.set['/'] = false;   // a class never matches '/'
		return n;
	}

	// A sequence until one of `stops` or the end.
	Node seq(const char *stops)
	{
		if (++depth > kMaxNesting)
			bad("nested too deeply");
		Node out;
		out.kind = Node::seq;
		while (i < p.size()) {
			char c = p[i];
			if (strchr(stops, c))
				break;
			bool ext = i + 1 < p.size() && p[i + 1] == '(' && strchr("@*+?!", c);
			if (ext || c == '(') {
				i += ext ? 2 : 1;
				has_group = true;
				Node g;
				g.kind = Node::group;
				g.cap = ++caps;
				Node inner = alts();
				switch (ext ? c : '@') {
				case '@': g.kids.push_back(std::move(inner)); break;
				case '*': g.kids.push_back(wrap(Node::star, std::move(inner))); break;
				case '+': g.kids.push_back(wrap(Node::plus, std::move(inner))); break;
				case '?': g.kids.push_back(wrap(Node::opt, std::move(inner))); break;
				case '!': {
					Node s;
					s.kids.push_back(wrap(Node::notc, std::move(inner)));
					s.kids.push_back(wrap(Node::star, any_but_slash()));
					g.kids.push_back(std::move(s));
					break;
				}
				}
				out.kids.push_back(std::move(g));
			} else if (c == '*') {
				if (i + 1 < p.size() && p[i + 1] == '*') {
					has_globstar = true;
					while (i < p.size() && p[i] == '*')
						i++;
					out.kids.push_back(wrap(Node::star, any_at_all()));
				} else {
					i++;
					out.kids.push_back(wrap(Node::star, any_but_slash()));
				}
			} else if (c == '?') {
				i++;
				out.kids.push_back(any_but_slash());
			} else if (c == '[') {
				out.kids.push_back(cls());
			} else if (c == '{') {
				i++;
				has_brace = true;
				Node a;
				a.kind = Node::alt;
				for (;;) {
					a.kids.push_back(seq(",}"));
					if (i >= p.size())
						bad("unterminated '{'");
					if (p[i++] == '}')
						break;
				}
				out.kids.push_back(std::move(a));
			} else if (c == '\\' && i + 1 < p.size()) {
				out.kids.push_back(lit((unsigned char)p[i + 1]));
				i += 2;
			} else if (c == ')' || c == '|') {
				bad(std::string("unexpected '") + c + "'");
			} else {
				out.kids.push_back(lit((unsigned char)c));
				i++;
			}
		}
		depth--;
		return out;
	}

	// Inside a group: alternatives up to the closing ')'.
	Node alts()
	{
		Node a;
		a.kind = Node::alt;
		for (;;) {
			a.kids.push_back(seq("|)"));
			if (i >= p.size())
				bad("unterminated '('");
			if (p[i++] == ')')
				return a;
		}
	}
};

} // namespace

// The program: what the matcher runs.
struct Glob::Prog {
	enum Op : uint8_t { chr, cls, split, jmp, save, notc, match };
	struct Inst {
		Op op;
		unsigned char c = 0;
		int x = 0, y = 0;    // split/jmp targets, save slot, notc sub-program, cls set
	};
	std::vector<Inst> code;
	std::vector<std::array<bool, 256>> sets;
	std::vector<Prog> subs;   // for notc
	size_t caps = 0;          // capture groups, group 0 (the whole path) excluded
};

namespace {

using Prog = Glob::Prog;

void emit(Prog &pg, const Node &n)
{
	auto at = [&] { return (int)pg.code.size(); };
	switch (n.kind) {
	case Node::lit: pg.code.push_back({Prog::chr, n.c}); break;
	case Node::cls:
		pg.sets.push_back(n.set);
		pg.code.push_back({Prog::cls, 0, (int)pg.sets.size() - 1});
		break;
	case Node::seq:
		for (auto &k : n.kids)
			emit(pg, k);
		break;
	case Node::alt: {
		std::vector<int> jumps;
		for (size_t k = 0; k < n.kids.size(); k++) {
			int split = -1;
			if (k + 1 < n.kids.size()) {
				split = at();
				pg.code.push_back({Prog::split});
				pg.code[(size_t)split].x = at();
			}
			emit(pg, n.kids[k]);
			if (k + 1 < n.kids.size()) {
				jumps.push_back(at());
				pg.code.push_back({Prog::jmp});
				pg.code[(size_t)split].y = at();
			}
		}
		for (int j : jumps)
			pg.code[(size_t)j].x = at();
		break;
	}
	case Node::group:
		pg.code.push_back({Prog::save, 0, 2 * n.cap});
		emit(pg, n.kids[0]);
		pg.code.push_back({Prog::save, 0, 2 * n.cap + 1});
		break;
	case Node::star: {   // L: split body, out; body; jmp L; out:
		int l = at();
		pg.code.push_back({Prog::split, 0, l + 1});
		emit(pg, n.kids[0]);
		pg.code.push_back({Prog::jmp, 0, l});
		pg.code[(size_t)l].y = at();
		break;
	}
	case Node::plus: {   // L: body; split L, out
		int l = at();
		emit(pg, n.kids[0]);
		pg.code.push_back({Prog::split, 0, l, at() + 1});
		break;
	}
	case Node::opt: {   // split body, out; body; out:
		int l = at();
		pg.code.push_back({Prog::split, 0, l + 1});
		emit(pg, n.kids[0]);
		pg.code[(size_t)l].y = at();
		break;
	}
	case Node::notc: {
		Prog sub;
		emit(sub, n.kids[0]);
		sub.code.push_back({Prog::match});
		pg.subs.push_back(std::move(sub));
		pg.code.push_back({Prog::notc, 0, (int)pg.subs.size() - 1});
		break;
	}
	}
}

// Run pg on s from `start`.  Whole: succeed only at the end of s (and fill
// caps); else (a !(...) test) succeed at the end of the component, never
// crossing a '/'.
bool run(const Prog &pg, const std::string &s, size_t start, bool whole, std::vector<size_t> *caps)
{
	size_t end = s.size();
	if (!whole) {
		size_t sl = s.find('/', start);
		end = sl == std::string::npos ? s.size() : sl;
	}
	size_t width = end - start + 1;
	std::vector<uint64_t> seen((pg.code.size() * width + 63) / 64);
	auto visit = [&](int pc, size_t pos) {
		size_t k = (size_t)pc * width + (pos - start);
		if (seen[k / 64] >> (k % 64) & 1)
			return false;
		seen[k / 64] |= 1ull << (k % 64);
		return true;
	};
	struct Job {
		int pc;
		size_t pos;
		int slot = -1;   // >= 0: restore caps[slot] to pos
	};
	std::vector<Job> jobs{{0, start}};
	while (!jobs.empty()) {
		Job j = jobs.back();
		jobs.pop_back();
		if (j.slot >= 0) {
			(*caps)[(size_t)j.slot] = j.pos;
			continue;
		}
		int pc = j.pc;
		size_t pos = j.pos;
		while (visit(pc, pos)) {
			const auto &in = pg.code[(size_t)pc];
			bool fail = false;
			switch (in.op) {
			case Prog::chr:
				if (pos < end && (unsigned char)s[pos] == in.c)
					pc++, pos++;
				else
					fail = true;
				break;
			case Prog::cls:
				if (pos < end && pg.sets[(size_t)in.x][(unsigned char)s[pos]])
					pc++, pos++;
				else
					fail = true;
				break;
			case Prog::split:
				jobs.push_back({in.y, pos});
				pc = in.x;
				break;
			case Prog::jmp: pc = in.x; break;
			case Prog::save:
				if (caps) {
					jobs.push_back({0, (*caps)[(size_t)in.x], in.x});
					(*caps)[(size_t)in.x] = pos;
				}
				pc++;
				break;
			case Prog::notc:
				if (run(pg.subs[(size_t)in.x], s, pos, false, nullptr))
					fail = true;
				else
					pc++;
				break;
			case Prog::match:
				if (pos == end)
					return true;
				fail = true;
				break;
			}
			if (fail)
				break;
		}
	}
	return false;
}

} // namespace

Glob::Glob(const std::string &pattern) : clean_(clean_glob(pattern))
{
	if (clean_.size() > kMaxPattern)
		die("bad glob pattern: longer than {} bytes", kMaxPattern);
	Parser ps{clean_};
	Node root = ps.seq("");
	auto pg = std::make_shared<Prog>();
	emit(*pg, root);
	pg->code.push_back({Prog::match});
	pg->caps = (size_t)ps.caps;
	prog_ = std::move(pg);
	if (!ps.has_globstar && !ps.has_group && !ps.has_brace) {
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
	const size_t unset = std::string::npos;
	std::vector<size_t> caps(2 * (prog_->caps + 1), unset);
	if (!run(*prog_, path, 0, true, groups ? &caps : nullptr))
		return false;
	if (groups) {
		groups->assign(1, path);
		for (size_t k = 1; k <= prog_->caps; k++) {
			size_t a = caps[2 * k], b = caps[2 * k + 1];
			groups->push_back(a == unset || b == unset || b < a ? std::string() : path.substr(a, b - a));
		}
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
		// More digits than any group count: no such group.
		size_t n = k - j > 6 ? SIZE_MAX : (size_t)std::stoul(t.substr(j, k - j));
		if (n < g.size())
			out += g[n];
		i = brace ? k : k - 1;
	}
	return out;
}

} // namespace pach
