"""GET /v2/<name>/tags/list and GET /v2/_catalog, with n/last pagination and Link."""

import urllib.parse

import pytest

from helpers import assert_error, make_image, next_link, push_manifest, unique

TAGS = ["v2", "latest", "a1", "b-2", "v1.0", "Z9", "c_3"]


@pytest.fixture(scope="module")
def tagged(reg):
    repo = unique("tags") + "/sub/app"
    body, mt, d, _ = make_image(reg, repo, tag=TAGS[0])
    for t in TAGS[1:]:
        r = push_manifest(reg, repo, t, body, mt)
        assert r.status == 201, r
    return repo


def test_tags_list_sorted(reg, tagged):
    r = reg.get("/v2/%s/tags/list" % tagged)
    assert r.status == 200, r
    assert r.header("Content-Type", "").split(";")[0] == "application/json", r
    doc = r.json()
    assert doc["name"] == tagged, doc
    assert doc["tags"] == sorted(TAGS), doc
    assert next_link(r) is None, r


def test_tags_first_page(reg, tagged):
    r = reg.get("/v2/%s/tags/list?n=2" % tagged)
    assert r.status == 200, r
    assert r.json()["tags"] == sorted(TAGS)[:2], r
    link = next_link(r)
    assert link is not None, r
    u = urllib.parse.urlsplit(link)
    assert u.path == "/v2/%s/tags/list" % tagged, link
    q = urllib.parse.parse_qs(u.query)
    assert q.get("n") == ["2"] and q.get("last") == [sorted(TAGS)[1]], link


def test_tags_last(reg, tagged):
    s = sorted(TAGS)
    r = reg.get("/v2/%s/tags/list?n=2&last=%s" % (tagged, s[2]))
    assert r.status == 200, r
    assert r.json()["tags"] == s[3:5], r
    r = reg.get("/v2/%s/tags/list?last=%s" % (tagged, s[2]))
    assert r.status == 200 and r.json()["tags"] == s[3:], r
    # `last` need not be an existing tag: lexically after it.
    r = reg.get("/v2/%s/tags/list?last=b" % tagged)
    assert r.json()["tags"] == [t for t in s if t > "b"], r


def test_tags_follow_links(reg, tagged):
    path, seen = "/v2/%s/tags/list?n=3" % tagged, []
    for _ in range(20):
        r = reg.get(path)
        assert r.status == 200, r
        page = r.json()["tags"]
        assert len(page) <= 3, r
        seen += page
        path = next_link(r)
        if path is None:
            break
    else:
        pytest.fail("pagination did not end")
    assert seen == sorted(TAGS)


def test_tags_exact_page_end_has_no_next(reg, tagged):
    r = reg.get("/v2/%s/tags/list?n=%d" % (tagged, len(TAGS)))
    assert r.json()["tags"] == sorted(TAGS)
    assert next_link(r) is None, r
    r = reg.get("/v2/%s/tags/list?n=%d" % (tagged, len(TAGS) + 5))
    assert r.json()["tags"] == sorted(TAGS)
    assert next_link(r) is None, r


def test_tags_past_the_end(reg, tagged):
    r = reg.get("/v2/%s/tags/list?n=2&last=zzz" % tagged)
    assert r.status == 200, r
    assert r.json()["tags"] in ([], None), r
    assert next_link(r) is None, r


def test_tags_n_zero(reg, tagged):
    r = reg.get("/v2/%s/tags/list?n=0" % tagged)
    assert r.status in (200, 400), r
    if r.status == 200:
        assert r.json()["tags"] in ([], None), r


@pytest.mark.parametrize("n", ["-1", "abc"])
def test_tags_bad_n(reg, tagged, n):
    r = reg.get("/v2/%s/tags/list?n=%s" % (tagged, n))
    # Rejected, or ignored; never a crash or a partial nonsense list.
    assert r.status in (200, 400), r
    if r.status == 200:
        assert r.json()["tags"] == sorted(TAGS), r
    assert reg.get("/v2/").status == 200


def test_tags_unknown_repo(reg):
    r = reg.get("/v2/%s/tags/list" % unique("nobody"))
    assert_error(r, 404, "NAME_UNKNOWN")


def test_tag_deletion_shows_in_list(reg):
    repo = unique("tagdel")
    body, mt, d, _ = make_image(reg, repo, tag="x1")
    assert push_manifest(reg, repo, "x2", body, mt).status == 201
    assert reg.delete("/v2/%s/manifests/x1" % repo).status == 202
    assert reg.get("/v2/%s/tags/list" % repo).json()["tags"] == ["x2"]


# ----------------------------------------------------------------------------- catalog

@pytest.fixture(scope="module")
def repos(reg):
    prefix = unique("cat")
    names = sorted(["%s/%s" % (prefix, x) for x in ("a", "b", "c/d", "e", "f-g")])
    for n in names:
        make_image(reg, n, tag="t")
    return names


def catalog_all(reg, n):
    path, seen = "/v2/_catalog?n=%d" % n, []
    for _ in range(1000):
        r = reg.get(path)
        assert r.status == 200, r
        page = r.json()["repositories"]
        assert len(page) <= n, r
        seen += page
        path = next_link(r)
        if path is None:
            return seen
        assert urllib.parse.urlsplit(path).path == "/v2/_catalog", path
    pytest.fail("catalog pagination did not end")


def test_catalog_lists_repositories_sorted(reg, repos):
    r = reg.get("/v2/_catalog")
    assert r.status == 200, r
    assert r.header("Content-Type", "").split(";")[0] == "application/json", r
    all_ = r.json()["repositories"]
    assert all_ == sorted(all_), all_
    for n in repos:
        assert n in all_, (n, all_)


def test_catalog_pagination(reg, repos):
    r = reg.get("/v2/_catalog?n=2")
    assert r.status == 200, r
    assert len(r.json()["repositories"]) == 2, r
    link = next_link(r)
    assert link is not None, r
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    assert q.get("n") == ["2"] and q.get("last") == [r.json()["repositories"][1]], link
    full = reg.get("/v2/_catalog").json()["repositories"]
    assert catalog_all(reg, 2) == full


def test_catalog_last(reg, repos):
    r = reg.get("/v2/_catalog?n=3&last=%s" % repos[0])
    assert r.status == 200, r
    assert r.json()["repositories"] == repos[1:4], r

