// Numbers in records that may come from elsewhere (a remote's state, a
// pulled job record or snapshot): strict decimal, no sign unless signed,
// no spaces, no overflow.  nullopt instead of an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pach {

inline std::optional<uint64_t> parse_uint64(std::string_view t)
{
	if (t.empty() || t.size() > 20)
		return std::nullopt;
	uint64_t v = 0;
	for (char c : t) {
		if (c < '0' || c > '9')
			return std::nullopt;
		uint64_t d = (uint64_t)(c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return std::nullopt;
		v = v * 10 + d;
	}
	return v;
}

inline std::optional<int64_t> parse_int64(std::string_view t)
{
	bool neg = !t.empty() && t[0] == '-';
	auto u = parse_uint64(neg ? t.substr(1) : t);
	if (!u || *u > (uint64_t)INT64_MAX)
		return std::nullopt;
	return neg ? -(int64_t)*u : (int64_t)*u;
}

} // namespace pach
