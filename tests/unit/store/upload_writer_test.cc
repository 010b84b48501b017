#include "store/upload_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "store/meta_store.h"
#include "test_paths.h"

namespace kura::store {
namespace {

class UploadWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = kura::testing::ScratchPath("upload-writer");
    std::filesystem::remove(path_);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Appends `data` through a writer, a whole buffer at a time, and waits for the writes.
  static void Append(UploadWriter& w, const std::string& data) {
    size_t at = 0;
    while (at < data.size()) {
      std::span<char> buf = w.NextBuffer();
      size_t n = std::min(buf.size(), data.size() - at);
      std::copy_n(data.data() + at, n, buf.data());
      w.Submit(n);
      at += n;
    }
    w.Finish();
  }
  static std::string Pattern(size_t n, char seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7 % 251);
    return s;
  }

  std::filesystem::path path_;
};

TEST_F(UploadWriterTest, AppendsManyBuffersAfterAnOddPrefix) {
  std::string prefix = Pattern(1000, 'a');
  std::string body = Pattern(3 * UploadWriter::kBufferBytes + 12345, 'b');
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, prefix.data(), prefix.size()), 1000);
  {
    UploadWriter w(fd, prefix.size());
    // A first buffer filled partly, then whole ones: the offsets of the writes follow the bytes.
    std::span<char> first = w.NextBuffer();
    ASSERT_EQ(first.size(), UploadWriter::kBufferBytes);
    std::copy_n(body.data(), 777, first.data());
    w.Submit(777);
    Append(w, body.substr(777));
  }
  ::close(fd);
  EXPECT_EQ(Contents(), prefix + body);
}

TEST_F(UploadWriterTest, SecondAppendContinuesWhereTheFirstEnded) {
  std::string one = Pattern(UploadWriter::kBufferBytes + 5, 'c');
  std::string two = Pattern(2 * UploadWriter::kBufferBytes + 4096, 'd');
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  {
    UploadWriter w(fd, 0);
    Append(w, one);
  }
  {
    UploadWriter w(fd, one.size());
    Append(w, two);
  }
  ::close(fd);
  EXPECT_EQ(Contents(), one + two);
}

TEST_F(UploadWriterTest, SmallAppendIsWrittenWhole) {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  {
    UploadWriter w(fd, 0);
    Append(w, "hello");
  }
  ::close(fd);
  EXPECT_EQ(Contents(), "hello");
}

TEST_F(UploadWriterTest, FailedWriteIsReportedWithItsReason) {
  { std::ofstream(path_) << ""; }
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // every write fails with EBADF
  ASSERT_GE(fd, 0);
  UploadWriter w(fd, 0);
  try {
    Append(w, Pattern(3 * UploadWriter::kBufferBytes, 'e'));
    ADD_FAILURE() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write upload"), std::string::npos) << e.what();
  }
  ::close(fd);
}

TEST_F(UploadWriterTest, AbandonedAppendDoesNotHang) {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  {
    UploadWriter w(fd, 0);
    for (int i = 0; i < 3; ++i) {
      std::span<char> buf = w.NextBuffer();
      std::fill(buf.begin(), buf.end(), 'x');
      w.Submit(buf.size());
    }
  }  // no Finish: the body was cut short; the destructor waits for the writes in flight
  ::close(fd);
  EXPECT_EQ(Contents().size(), 3 * UploadWriter::kBufferBytes);
}

int ThreadsOfThisProcess() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST_F(UploadWriterTest, ManyWritersAtOnceShareAFewThreads) {
  // 40 appends in flight together, each of three buffers: the writes go to the shared writer
  // threads (at most 8), never to a thread per append.
  constexpr int kWriters = 40;
  std::vector<int> fds;
  std::vector<std::unique_ptr<UploadWriter>> writers;
  for (int i = 0; i < kWriters; ++i) {
    fds.push_back(::open((path_.string() + std::to_string(i)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC,
                         0644));
    ASSERT_GE(fds.back(), 0);
    writers.push_back(std::make_unique<UploadWriter>(fds.back(), 0));
  }
  int before = ThreadsOfThisProcess();
  for (int round = 0; round < 3; ++round) {
    for (auto& w : writers) {
      std::span<char> buf = w->NextBuffer();
      std::fill(buf.begin(), buf.end(), static_cast<char>('a' + round));
      w->Submit(buf.size());
    }
  }
  EXPECT_LE(ThreadsOfThisProcess(), before + 8);
  for (auto& w : writers) w->Finish();
  writers.clear();
  for (int i = 0; i < kWriters; ++i) {
    ::close(fds[i]);
    std::string file = path_.string() + std::to_string(i);
    EXPECT_EQ(std::filesystem::file_size(file), 3 * UploadWriter::kBufferBytes);
    std::filesystem::remove(file);
  }
}

}  // namespace
}  // namespace kura::store
