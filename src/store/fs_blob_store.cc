#include "store/fs_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

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

std::optional<BlobFile> FsBlobStore::Open(const core::Digest& digest) {
  int fd = ::open(BlobPath(digest).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  return BlobFile{FileHandle(fd), static_cast<uint64_t>(st.st_size)};
}

FileHandle FsBlobStore::OpenUpload(const std::string& id, uint64_t offset) {
  FileHandle f(::open(UploadPath(id).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!f.valid()) return f;
  if (::ftruncate(f.get(), static_cast<off_t>(offset)) != 0 ||
      ::lseek(f.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return FileHandle();
  }
  return f;
}

FileHandle FsBlobStore::ReadUpload(const std::string& id) {
  return FileHandle(::open(UploadPath(id).c_str(), O_RDONLY | O_CLOEXEC));
}

bool FsBlobStore::CommitUpload(const std::string& id, const core::Digest& digest) {
  std::string from = UploadPath(id);
  std::string to = BlobPath(digest);
  struct stat st;
  if (::stat(to.c_str(), &st) == 0) {  // content-addressed: the bytes are there already
    ::unlink(from.c_str());
    return true;
  }
  // A blob is never written again: read-only from here on, for kura and everyone else.
  if (::chmod(from.c_str(), 0444) != 0 || !FsyncPath(from)) return false;
  std::string dir = to.substr(0, to.rfind('/'));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return false;
  if (::rename(from.c_str(), to.c_str()) != 0) return false;
  return FsyncPath(dir);
}

void FsBlobStore::RemoveUpload(const std::string& id) { ::unlink(UploadPath(id).c_str()); }

void FsBlobStore::Remove(const core::Digest& digest) { ::unlink(BlobPath(digest).c_str()); }

int FsBlobStore::RemoveStaleUploads(const std::function<bool(const std::string&)>& is_live) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root_ + "/uploads", ec)) {
    std::string id = entry.path().filename().string();
    if (!is_live(id) && std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace kura::store
