// Glob patterns (from specs) and the paths they are matched against (from
// trees): the first line is the pattern, each further line a path.
#include "fuzz/fuzz.h"
#include "plumbing/glob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string text((const char *)data, size);
	size_t nl = text.find('\n');
	std::string pattern = text.substr(0, nl);
	pach::fuzz::expect_errors_only([&] {
		pach::Glob g(pattern);
		size_t i = nl == std::string::npos ? text.size() : nl + 1;
		while (i < text.size()) {
			size_t e = text.find('\n', i);
			if (e == std::string::npos)
				e = text.size();
			std::vector<std::string> groups;
			if (g.match("/" + text.substr(i, e - i), &groups))
				(void)pach::Glob::expand("$1-${2}-$$-$99999999999999999999", groups);
			i = e + 1;
		}
	});
	return 0;
}
