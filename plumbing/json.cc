#include "plumbing/json.h"

#include "plumbing/quote.h"

#include <fmt/format.h>

namespace pach {

void Json::value()
{
	if (after_key_) {
		after_key_ = false;
		return;
	}
	if (!first_.empty()) {
		if (!first_.back())
			out_ += ',';
		first_.back() = false;
	}
}

Json &Json::open(char c)
{
	value();
	out_ += c;
	first_.push_back(true);
	return *this;
}

Json &Json::close(char c)
{
	out_ += c;
	if (!first_.empty())
		first_.pop_back();
	return *this;
}

Json &Json::key(std::string_view k)
{
	value();
	out_ += json_string(k);
	out_ += ':';
	after_key_ = true;
	return *this;
}

Json &Json::str(std::string_view v)
{
	value();
	out_ += json_string(v);
	return *this;
}

Json &Json::num(int64_t v)
{
	value();
	out_ += std::to_string(v);
	return *this;
}

Json &Json::num(uint64_t v)
{
	value();
	out_ += std::to_string(v);
	return *this;
}

Json &Json::fixed(double v, int decimals)
{
	value();
	out_ += fmt::format("{:.{}f}", v, decimals);
	return *this;
}

Json &Json::boolean(bool v)
{
	value();
	out_ += v ? "true" : "false";
	return *this;
}

Json &Json::null()
{
	value();
	out_ += "null";
	return *this;
}

Json &Json::raw(std::string_view json)
{
	value();
	out_ += json;
	return *this;
}

Json &Json::flush(FILE *f)
{
	fwrite(out_.data(), 1, out_.size(), f);
	out_.clear();
	return *this;
}

} // namespace pach
