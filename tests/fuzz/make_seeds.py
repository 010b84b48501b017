#!/usr/bin/env python3
"""Writes the structure-aware seeds of tests/fuzz/corpus/<target>/ (seed-* files): deep nesting,
long arrays, invalid UTF-8, inputs at the edges of each parser. Run it again after changing it;
inputs that crashed a target are added beside the seeds by hand (crash-* files), never removed.

    tests/fuzz/make_seeds.py            # rewrites the seed-* files
"""

import base64
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
D = "sha256:" + "ab" * 32


def desc(mt="application/vnd.oci.image.layer.v1.tar+gzip", size=1):
    return {"mediaType": mt, "digest": D, "size": size}


def manifest(**extra):
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": desc("application/vnd.oci.image.config.v1+json"), "layers": [desc()]}
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


def deep(n, open_="[", close="]"):
    return (open_ * n + close * n).encode()


def seeds():
    ct = OCI_MANIFEST.encode() + b"\n"
    yield "fuzz_manifest", "image", ct + manifest()
    yield "fuzz_manifest", "index", OCI_INDEX.encode() + b"\n" + json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX,
         "manifests": [desc(OCI_MANIFEST)] * 3}).encode()
    yield "fuzz_manifest", "subject-annotations", ct + manifest(
        subject=desc(OCI_MANIFEST), artifactType="application/x.sig", annotations={"k": "v"})
    yield "fuzz_manifest", "deep-annotations", ct + manifest()[:-1] + (
        b',"annotations":{"a":' + deep(100000) + b"}}")
    yield "fuzz_manifest", "deep-objects", ct + manifest()[:-1] + (
        b',"x":' + b'{"a":' * 30000 + b"1" + b"}" * 30000 + b"}")
    yield "fuzz_manifest", "at-the-limit", ct + manifest()[:-1] + b',"x":' + deep(63) + b"}"
    yield "fuzz_manifest", "long-layers", ct + manifest(layers=[desc()] * 2000)
    yield "fuzz_manifest", "invalid-utf8", ct + manifest(mediaType="x").replace(
        b'"x"', b'"\xff\xfe"')
    yield "fuzz_manifest", "escaped-brackets", ct + manifest(
        annotations={"k": "[[[[{{{{\"\\" * 100})

    yield "fuzz_bounded_json", "deep-arrays", deep(100000)
    yield "fuzz_bounded_json", "deep-objects", b'{"a":' * 50000 + b"0" + b"}" * 50000
    yield "fuzz_bounded_json", "at-the-limit", deep(64)
    yield "fuzz_bounded_json", "one-over", deep(65)
    yield "fuzz_bounded_json", "brackets-in-strings", json.dumps(["[" * 1000, "\\\"{" * 500]).encode()
    yield "fuzz_bounded_json", "invalid-utf8", b'{"user":"\xff\xc3\x28","ok":"caf\xc3\xa9"}'
    yield "fuzz_bounded_json", "lone-surrogate", b'["\\ud800","\\udfff","\\ud83d\\ude00"]'
    yield "fuzz_bounded_json", "long-array", json.dumps(list(range(30000))).encode()
    yield "fuzz_bounded_json", "unclosed", b"[" * 70 + b'"x'

    yield "fuzz_error_body", "invalid-utf8", b"bad\xff\xfe\x80name"
    yield "fuzz_error_body", "truncated-sequence", b"caf\xc3"
    yield "fuzz_error_body", "controls", bytes(range(32)) + b'"\\'
    yield "fuzz_error_body", "overlong", b"\xc0\xaf\xe0\x80\xaf"

    yield "fuzz_request_parts", "route", b"/v2/team/app/manifests/latest"
    yield "fuzz_request_parts", "escapes", b"/v2/%ff/tags/list"
    yield "fuzz_request_parts", "upload", b"/v2/a/b/blobs/uploads/%c3%28"
    yield "fuzz_request_parts", "digest", D.encode()
    yield "fuzz_request_parts", "basic", b"Basic " + base64.b64encode(b"user:\xffpass")

    yield "fuzz_token", "scope", b"repository:team/app:pull,push"
    yield "fuzz_token", "claims", (b'{"alg":"HS256","typ":"JWT"}\n{"sub":"u","aud":"s","exp":'
                                   b'9999999999,"nbf":0,"iat":0,"access":[{"type":"repository",'
                                   b'"name":"a","actions":["pull"]}]}')
    yield "fuzz_token", "deep-claims", b'{"alg":"HS256"}\n{"access":' + deep(100000) + b"}"

    yield "fuzz_proxy_protocol", "v1", b"PROXY TCP4 198.51.100.10 192.0.2.1 40000 443\r\nGET"
    src, dst = bytes([198, 51, 100, 10]), bytes([192, 0, 2, 1])
    tlv = bytes([0xE1]) + struct.pack("!H", 6) + b"\x01vpc-a"
    body = src + dst + struct.pack("!HH", 40000, 443) + tlv
    yield "fuzz_proxy_protocol", "v2-tlv", (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) +
                                            struct.pack("!H", len(body)) + body)

    ns = b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    prolog = b'<?xml version="1.0" encoding="UTF-8"?>'
    yield "fuzz_s3_xml", "error", (prolog + b"<Error><Code>NoSuchKey</Code><Message>&lt;k&gt;"
                                   b"</Message><RequestId>tx01</RequestId></Error>")
    yield "fuzz_s3_xml", "listing", (
        prolog + b"<ListBucketResult" + ns + b"><EncodingType>url</EncodingType>"
        b"<IsTruncated>true</IsTruncated>" + b"".join(
            b"<Contents><Key>k%2F" + str(i).encode() + b"+x</Key><ETag>&quot;ab&quot;</ETag>"
            b"<Size>" + str(i).encode() + b"</Size><Owner><ID>o</ID></Owner></Contents>"
            for i in range(50)) + b"<NextContinuationToken>t/o=</NextContinuationToken>"
        b"</ListBucketResult>")
    yield "fuzz_s3_xml", "parts", (
        prolog + b"<ListPartsResult" + ns + b"><IsTruncated>true</IsTruncated>"
        b"<NextPartNumberMarker>2</NextPartNumberMarker><Part><PartNumber>1</PartNumber>"
        b"<ETag>\"aa\"</ETag><Size>5242880</Size></Part></ListPartsResult>")
    yield "fuzz_s3_xml", "initiate", (prolog + b"<InitiateMultipartUploadResult" + ns +
                                      b"><UploadId>2~x</UploadId></InitiateMultipartUploadResult>")
    yield "fuzz_s3_xml", "complete", (b"<CompleteMultipartUploadResult><ETag>&quot;e-3&quot;"
                                      b"</ETag></CompleteMultipartUploadResult>")
    yield "fuzz_s3_xml", "cdata-comments", (b"<!-- c --><s3:R a='>' b=\"<\"><![CDATA[<x>]]>"
                                            b"&#x41;&#66;<B/></s3:R><?pi?>")
    yield "fuzz_s3_xml", "doctype", (b'<!DOCTYPE l [<!ENTITY a "aaaa">]><Error><Code>&a;</Code>'
                                     b"</Error>")
    yield "fuzz_s3_xml", "deep", b"<a>" * 30000 + b"</a>" * 30000
    yield "fuzz_s3_xml", "at-the-depth-limit", b"<a>" * 8 + b"</a>" * 8
    yield "fuzz_s3_xml", "truncated", prolog + b"<ListBucketResult><Contents><Key>a</Ke"

    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if name.endswith(".yaml"):
            with open(os.path.join(ROOT, "examples", name), "rb") as f:
                yield "fuzz_topology", name[:-5], f.read()
    yield "fuzz_topology", "deep-flow", b"accounts: " + deep(100000) + b"\n"
    yield "fuzz_topology", "invalid-utf8", b"accounts:\n  - id: \xff\n"


def main():
    by_target = {}
    for target, name, data in seeds():
        by_target.setdefault(target, []).append((name, data))
    for target, items in by_target.items():
        folder = os.path.join(CORPUS, target)
        os.makedirs(folder, exist_ok=True)
        for old in os.listdir(folder):
            if old.startswith("seed-"):
                os.unlink(os.path.join(folder, old))
        for name, data in items:
            with open(os.path.join(folder, "seed-" + name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (target, len(items)))


if __name__ == "__main__":
    main()
