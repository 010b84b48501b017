#include "store/fs_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "store/meta_store.h"
#include "store/upload_writer.h"

namespace kura::store {

FileHandle& FileHandle::operator=(FileHandle&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

bool FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

[[noreturn]] void ThrowErrno(const std::string& what) {
  int e = errno;
  std::string why = what + ": " + std::strerror(e);
  if (e == ENOSPC || e == EDQUOT) throw StorageFull(why);
  throw StoreError(why);
}

class FileReader final : public BlobReader {
 public:
  FileReader(FileHandle file, uint64_t size) : file_(std::move(file)), size_(size) {}
  uint64_t size() const override { return size_; }
  int fd() const override { return file_.get(); }
  size_t ReadAt(uint64_t offset, char* buf, size_t n) override { return Pread(file_.get(), offset, buf, n); }
  void WillRead(uint64_t offset, uint64_t length) override {
    ::posix_fadvise(file_.get(), static_cast<off_t>(offset), static_cast<off_t>(length),
                    POSIX_FADV_WILLNEED);
  }

 private:
  static size_t Pread(int fd, uint64_t offset, char* buf, size_t n) {
    while (true) {
      ssize_t got = ::pread(fd, buf, n, static_cast<off_t>(offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) ThrowErrno("cannot read blob");
    }
  }
  FileHandle file_;
  uint64_t size_;
};

std::unique_ptr<BlobReader> OpenReader(const std::string& path) {
  FileHandle f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f.valid()) return nullptr;
  struct stat st;
  if (::fstat(f.get(), &st) != 0) return nullptr;
  return std::make_unique<FileReader>(std::move(f), static_cast<uint64_t>(st.st_size));
}

// An append to an upload file: the file is cut to the recorded offset first, so a chunk cut
// short earlier leaves no trace, and the writer (upload_writer.h) does the writes.
class FileAppender final : public UploadAppender {
 public:
  FileAppender(FileHandle file, uint64_t offset)
      : file_(std::move(file)), offset_(offset), writer_(file_.get(), offset) {}
  std::span<char> NextBuffer() override { return writer_.NextBuffer(); }
  void Submit(size_t n) override { writer_.Submit(n); }
  void ReleaseIdleBuffers() override { writer_.ReleaseIdleBuffers(); }
  std::string Finish() override {
    writer_.Finish();
    return {};
  }
  void Abort() override {
    // The bytes of a failed append are given back at once: a full disk gets its space back.
    try {
      writer_.Finish();
    } catch (const StoreError&) {
    }
    (void)::ftruncate(file_.get(), static_cast<off_t>(offset_));
  }

 private:
  FileHandle file_;  // declared before writer_: it outlives the writes
  uint64_t offset_;
  UploadWriter writer_;
};

}  // namespace

FsBlobStore::FsBlobStore(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  for (const char* sub : {"/blobs/sha256", "/blobs/sha512", "/uploads"}) {
    std::filesystem::create_directories(root_ + sub, ec);
    if (ec) throw std::runtime_error("cannot create " + root_ + sub + ": " + ec.message());
  }
}

std::string FsBlobStore::BlobPath(const core::Digest& digest) const {
  std::string_view hex = digest.hex();
  std::string path = root_;
  path += "/blobs/";
  path += digest.algorithm();
  path += '/';
  path += hex.substr(0, 2);
  path += '/';
  path += hex;
  return path;
}

std::unique_ptr<BlobReader> FsBlobStore::Open(const core::Digest& digest) {
  return OpenReader(BlobPath(digest));
}

std::optional<uint64_t> FsBlobStore::Stat(const core::Digest& digest) {
  struct stat st;
  if (::stat(BlobPath(digest).c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

std::unique_ptr<UploadAppender> FsBlobStore::Append(const std::string& id, uint64_t offset,
                                                    const std::string& /*state*/) {
  FileHandle f(::open(UploadPath(id).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!f.valid()) ThrowErrno("cannot open upload file " + id);
  // An appended PATCH's bytes are written, not synced: after a power cut the file may hold fewer
  // bytes than the session counts. Cutting it "back" to the offset would fill the gap with zeros
  // that the session's hash never saw, and the blob would not hash to its digest: refused.
  struct stat st;
  if (::fstat(f.get(), &st) != 0) ThrowErrno("cannot stat upload file " + id);
  if (static_cast<uint64_t>(st.st_size) < offset) {
    throw StoreError("upload file " + id + " holds " + std::to_string(st.st_size) +
                     " bytes, fewer than the " + std::to_string(offset) +
                     " recorded (lost in a crash?): the upload must start again");
  }
  if (::ftruncate(f.get(), static_cast<off_t>(offset)) != 0) {
    ThrowErrno("cannot cut upload file " + id);
  }
  return std::make_unique<FileAppender>(std::move(f), offset);
}

void FsBlobStore::Commit(const std::string& id, uint64_t size, const std::string& /*state*/,
                         const core::Digest& digest) {
  std::string from = UploadPath(id);
  std::string to = BlobPath(digest);
  struct stat st;
  if (::stat(to.c_str(), &st) == 0) {  // content-addressed: the bytes are there already
    ::unlink(from.c_str());
    return;
  }
  if (size == 0) {  // an empty blob still needs its (empty) file
    FileHandle f(::open(from.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (!f.valid()) ThrowErrno("cannot create upload file " + id);
  }
  if (::stat(from.c_str(), &st) != 0) ThrowErrno("cannot find upload file " + id);
  if (static_cast<uint64_t>(st.st_size) != size) {
    throw StoreError("upload file " + id + " holds " + std::to_string(st.st_size) +
                     " bytes, not the " + std::to_string(size) + " recorded");
  }
  // A blob is never written again: read-only from here on, for kura and everyone else.
  if (::chmod(from.c_str(), 0444) != 0 || !FsyncPath(from)) ThrowErrno("cannot sync blob");
  std::string dir = to.substr(0, to.rfind('/'));
  std::error_code ec;
  // The first blob of its shard makes the shard's directory: the directory's own name must be
  // durable in its parent too, or a power cut can take the blob with it.
  if (std::filesystem::create_directories(dir, ec)) {
    std::string parent = dir.substr(0, dir.rfind('/'));
    if (!FsyncPath(parent)) ThrowErrno("cannot sync " + parent);
  }
  if (ec) throw StoreError("cannot create " + dir + ": " + ec.message());
  // The bytes were synced above, before the name points at them; the rename is durable once the
  // directory holding the new name is synced, and only then is the blob acknowledged.
  if (::rename(from.c_str(), to.c_str()) != 0) ThrowErrno("cannot store blob");
  if (!FsyncPath(dir)) ThrowErrno("cannot sync " + dir);
}

void FsBlobStore::RemoveUpload(const std::string& id, const std::string& /*state*/) {
  ::unlink(UploadPath(id).c_str());
}

std::unique_ptr<BlobReader> FsBlobStore::ReadUpload(const std::string& id,
                                                    const std::string& /*state*/) {
  return OpenReader(UploadPath(id));
}

bool FsBlobStore::HoldsUpload(const std::string& id, uint64_t offset,
                              const std::string& /*state*/) {
  struct stat st;
  if (::stat(UploadPath(id).c_str(), &st) != 0) return offset == 0;
  return static_cast<uint64_t>(st.st_size) >= offset;
}

std::vector<std::string> FsBlobStore::ListUploads(int64_t idle_seconds) {
  std::vector<std::string> ids;
  std::error_code ec;
  auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(root_ + "/uploads", ec)) {
    auto written = entry.last_write_time(ec);
    if (ec || now - written < std::chrono::seconds(idle_seconds)) continue;
    ids.push_back(entry.path().filename().string());
  }
  return ids;
}

void FsBlobStore::Remove(const core::Digest& digest) {
  ::unlink(BlobPath(digest).c_str());
}

}  // namespace kura::store
