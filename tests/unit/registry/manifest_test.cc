#include "registry/manifest.h"

#include <gtest/gtest.h>

#include "core/media_types.h"

namespace kura::registry {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string ImageManifest(const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         kA + R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         kB + R"(","size":10}])" + extra + "}";
}

TEST(ManifestTest, ImageManifestFacts) {
  auto p = ParseManifest(ImageManifest(), "application/vnd.oci.image.manifest.v1+json");
  ASSERT_FALSE(p.error) << p.error->message;
  EXPECT_EQ(p.facts->media_type, core::kOciManifest);
  ASSERT_EQ(p.facts->blobs.size(), 2u);
  EXPECT_EQ(p.facts->blobs[0].str(), kA);
  EXPECT_EQ(p.facts->blobs[1].str(), kB);
  EXPECT_EQ(p.facts->artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_FALSE(p.facts->subject);
}

TEST(ManifestTest, SubjectArtifactTypeAnnotations) {
  auto p = ParseManifest(
      ImageManifest(R"(,"artifactType":"application/x.sig","subject":{"mediaType":)"
                    R"("application/vnd.oci.image.manifest.v1+json","digest":")" +
                    kC + R"(","size":5},"annotations":{"k":"v"})"),
      "");
  ASSERT_FALSE(p.error) << p.error->message;
  ASSERT_TRUE(p.facts->subject);
  EXPECT_EQ(p.facts->subject->str(), kC);
  EXPECT_EQ(p.facts->artifact_type, "application/x.sig");
  EXPECT_EQ(p.facts->annotations_json, R"({"k":"v"})");
}

TEST(ManifestTest, IndexChildren) {
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                      R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                      R"("digest":")" + kA + R"(","size":7,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto p = ParseManifest(index, "application/vnd.oci.image.index.v1+json");
  ASSERT_FALSE(p.error) << p.error->message;
  ASSERT_EQ(p.facts->manifests.size(), 1u);
  EXPECT_TRUE(p.facts->blobs.empty());
}

TEST(ManifestTest, MediaTypeFromContentTypeWhenBodyHasNone) {
  std::string body = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
                     kA + R"(","size":2},"layers":[]})";
  auto p = ParseManifest(body, "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.facts->media_type, core::kDockerManifest);
}

TEST(ManifestTest, RefusesMalformed) {
  const std::string bad_digest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]})";
  for (const std::string& body :
       {std::string("not json"), std::string("[]"), std::string(R"({"schemaVersion":1})"),
        std::string(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json"})"),
        std::string(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})"),
        std::string(R"({"schemaVersion":2,"mediaType":"text/plain"})"), bad_digest,
        ImageManifest(R"(,"annotations":[1])")}) {
    auto p = ParseManifest(body, "");
    ASSERT_TRUE(p.error) << body;
    EXPECT_EQ(p.error->code, core::ErrorCode::kManifestInvalid);
  }
}

TEST(ManifestTest, RefusesMediaTypeDisagreeingWithContentType) {
  auto p = ParseManifest(ImageManifest(), "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(p.error);
}

}  // namespace
}  // namespace kura::registry
