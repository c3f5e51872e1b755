#!/usr/bin/env python3
"""boto3 with virtual-host addressing against `pach serve --domain s3.test`
(t8000).  Names under s3.test resolve to 127.0.0.1 in this process only;
the rest is boto3 as a user runs it.  One line per check, 'ok NAME' or
'FAIL NAME: why'; the exit code is the number of failures.

usage: lib-serve-vhost.py PORT ACCESS_KEY SECRET_KEY
"""
import socket
import sys
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.dont_write_bytecode = True
from lib_serve_checks import check, expect, failed  # noqa: E402 - t/ is the script's directory

port, ak, sk = sys.argv[1:4]
_resolve = socket.getaddrinfo


def getaddrinfo(host, *args, **kw):
    if isinstance(host, str) and (host == "s3.test" or host.endswith(".s3.test")):
        host = "127.0.0.1"
    return _resolve(host, *args, **kw)


socket.getaddrinfo = getaddrinfo


def client(secret, style="virtual"):
    cfg = Config(s3={"addressing_style": style}, retries={"max_attempts": 1}, signature_version="s3v4")
    return boto3.client("s3", endpoint_url="http://s3.test:%s" % port, aws_access_key_id=ak,
                        aws_secret_access_key=secret, region_name="us-east-1", config=cfg)


s3, path_style, bad = client(sk), client(sk, "path"), client("wrong")


def put_get():
    r = s3.put_object(Bucket="master.data", Key="vhost/a b.txt", Body=b"virtual\n")
    expect(len(r["VersionId"]), 40)
    expect(s3.get_object(Bucket="master.data", Key="vhost/a b.txt")["Body"].read(), b"virtual\n")
    # the same object, path style, from the same server
    expect(path_style.get_object(Bucket="master.data", Key="vhost/a b.txt")["Body"].read(), b"virtual\n")


def listing():
    r = s3.list_objects_v2(Bucket="master.data", Prefix="vhost/")
    expect([o["Key"] for o in r["Contents"]], ["vhost/a b.txt"])
    expect([b["Name"] for b in s3.list_buckets()["Buckets"]].count("master.data"), 1)
    s3.head_bucket(Bucket="data")


def keys_named_like_server_paths():
    # under a bucket's host name, /metrics and /console/ are keys
    s3.put_object(Bucket="master.data", Key="metrics", Body=b"m\n")
    s3.put_object(Bucket="master.data", Key="console/index.html", Body=b"c\n")
    expect(s3.get_object(Bucket="master.data", Key="metrics")["Body"].read(), b"m\n")
    expect(s3.get_object(Bucket="master.data", Key="console/index.html")["Body"].read(), b"c\n")


def presigned():
    u = s3.generate_presigned_url("get_object", Params={"Bucket": "master.data", "Key": "vhost/a b.txt"})
    if "//master.data.s3.test:" not in u:
        raise AssertionError("not a virtual-host URL: " + u)
    expect(urllib.request.urlopen(u).read(), b"virtual\n")


def refused():
    try:
        bad.get_object(Bucket="master.data", Key="vhost/a b.txt")
        raise AssertionError("a wrong secret was accepted")
    except ClientError as e:
        expect(e.response["Error"]["Code"], "SignatureDoesNotMatch")
    try:
        s3.get_object(Bucket="nosuchrepo", Key="x")
        raise AssertionError("a missing bucket answered")
    except ClientError as e:
        expect(e.response["Error"]["Code"], "NoSuchBucket")


for name, fn in [("put and get", put_get), ("listing", listing),
                 ("/metrics and /console/ are keys under a bucket host", keys_named_like_server_paths),
                 ("presigned URL", presigned), ("refusals", refused)]:
    check(name, fn)
sys.exit(failed())
