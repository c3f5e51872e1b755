// AWS settings: credentials, region and endpoint from the environment and
// ~/.aws/{credentials,config}, as the AWS CLI and SDKs read them.
#include "remote/s3.h"

#include <cstdlib>
#include <fstream>
#include <map>

namespace pach::remote {

static std::map<std::string, std::map<std::string, std::string>> read_ini(const std::string &path)
{
	std::map<std::string, std::map<std::string, std::string>> out;
	std::ifstream in(path);
	std::string line, section;
	auto trim = [](std::string s) {
		size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
		return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
	};
	while (std::getline(in, line)) {
		line = trim(line);
		if (line.empty() || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[' && line.back() == ']') {
			section = trim(line.substr(1, line.size() - 2));
			continue;
		}
		auto eq = line.find('=');
		if (eq != std::string::npos)
			out[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
	}
	return out;
}

static std::string env(const char *k)
{
	const char *v = getenv(k);
	return v ? v : "";
}

AwsSettings aws_settings()
{
	AwsSettings s;
	s.profile = !env("AWS_PROFILE").empty() ? env("AWS_PROFILE") : "default";
	std::string home = env("HOME");
	std::string cred_file = !env("AWS_SHARED_CREDENTIALS_FILE").empty() ? env("AWS_SHARED_CREDENTIALS_FILE")
										: home + "/.aws/credentials";
	std::string conf_file = !env("AWS_CONFIG_FILE").empty() ? env("AWS_CONFIG_FILE") : home + "/.aws/config";
	auto creds = read_ini(cred_file);
	auto conf = read_ini(conf_file);
	auto &cp = creds[s.profile];
	auto &pc = conf[s.profile == "default" ? "default" : "profile " + s.profile];
	auto pick = [&](const char *e, const char *key) {
		if (!env(e).empty())
			return env(e);
		if (cp.count(key))
			return cp[key];
		if (pc.count(key))
			return pc[key];
		return std::string();
	};
	if (!env("AWS_ACCESS_KEY_ID").empty()) {
		// Keys from the environment come as a set.
		s.creds.access_key = env("AWS_ACCESS_KEY_ID");
		s.creds.secret_key = env("AWS_SECRET_ACCESS_KEY");
		s.creds.session_token = env("AWS_SESSION_TOKEN");
	} else {
		s.creds.access_key = pick("", "aws_access_key_id");
		s.creds.secret_key = pick("", "aws_secret_access_key");
		s.creds.session_token = pick("", "aws_session_token");
	}
	s.region = !env("AWS_REGION").empty()	      ? env("AWS_REGION")
		   : !env("AWS_DEFAULT_REGION").empty() ? env("AWS_DEFAULT_REGION")
		   : pc.count("region")		      ? pc["region"]
							      : "";
	s.endpoint = !env("AWS_ENDPOINT_URL_S3").empty() ? env("AWS_ENDPOINT_URL_S3")
		     : !env("AWS_ENDPOINT_URL").empty()  ? env("AWS_ENDPOINT_URL")
		     : pc.count("endpoint_url")	       ? pc["endpoint_url"]
							       : "";
	return s;
}

} // namespace pach::remote
