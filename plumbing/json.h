// Writing JSON: the one place values are escaped (json_string, which
// keeps non-UTF-8 bytes as \udc80-\udcff) and commas placed.
//
//   Json j;
//   j.begin_object().field("id", id).key("files").begin_array();
//   for (...) j.str(name);
//   j.end_array().end_object();
//   fmt::print("{}\n", j.text());
#pragma once

#include "plumbing/oid.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pach {

class Json {
public:
	Json &begin_object() { return open('{'); }
	Json &end_object() { return close('}'); }
	Json &begin_array() { return open('['); }
	Json &end_array() { return close(']'); }
	Json &key(std::string_view k);
	Json &str(std::string_view v);
	Json &num(int64_t v);
	Json &num(uint64_t v);
	Json &num(int v) { return num((int64_t)v); }
	Json &num(unsigned v) { return num((uint64_t)v); }
	Json &fixed(double v, int decimals);   // "1.500"
	Json &boolean(bool v);
	Json &null();
	Json &raw(std::string_view json);      // a value already written as JSON

	Json &field(std::string_view k, std::string_view v) { return key(k).str(v); }
	Json &field(std::string_view k, const std::string &v) { return key(k).str(v); }
	Json &field(std::string_view k, const char *v) { return key(k).str(v); }
	Json &field(std::string_view k, bool v) { return key(k).boolean(v); }
	Json &field(std::string_view k, int v) { return key(k).num(v); }
	Json &field(std::string_view k, int64_t v) { return key(k).num(v); }
	Json &field(std::string_view k, uint64_t v) { return key(k).num(v); }
	Json &field(std::string_view k, unsigned v) { return key(k).num(v); }
	// A string, or null when absent.
	Json &field(std::string_view k, const std::optional<std::string> &v)
	{
		key(k);
		return v ? str(*v) : null();
	}

	// An object id as hex; absent: null.
	Json &field(std::string_view k, const Oid &v) { return key(k).str(v.hex()); }
	Json &field(std::string_view k, const std::optional<Oid> &v)
	{
		key(k);
		return v ? str(v->hex()) : null();
	}

	const std::string &text() const { return out_; }
	// Writes what was written so far to `f` and forgets it (the state is
	// kept): long output is printed as it goes, not held whole.
	Json &flush(FILE *f);

private:
	Json &open(char c);
	Json &close(char c);
	void value();   // a comma first, unless it is the first or follows a key
	std::string out_;
	std::vector<bool> first_;   // per open container: nothing in it yet
	bool after_key_ = false;
};

} // namespace pach
