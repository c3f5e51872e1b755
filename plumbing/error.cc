#include "plumbing/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pach {

void die_errno(int err, const std::string &msg)
{
	throw Error(Exit::fatal, msg + ": " + std::strerror(err));
}

void die_errno(const std::string &msg)
{
	die_errno(errno, msg);
}

void warning(const std::string &msg)
{
	std::fprintf(stderr, "warning: %s\n", msg.c_str());
}

} // namespace pach
