#include "cli/migrate_blobs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <thread>

#include "store/blob_store.h"
#include "store/meta_store.h"

namespace kura::cli {
namespace {

namespace fs = std::filesystem;

constexpr auto kProgressInterval = std::chrono::seconds(3);

// The digest of the file's bytes, read to its end (the dry run's verification). Throws
// BlobFileUnreadable when it cannot be read or does not hold `size` bytes.
core::Digest HashFile(int fd, uint64_t size, const std::function<void(uint64_t)>& progress) {
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  core::Sha256 hash;
  std::string buffer(1 << 20, '\0');
  uint64_t offset = 0;
  while (true) {
    ssize_t got = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      throw store::BlobFileUnreadable(std::string("cannot read it: ") + std::strerror(errno));
    }
    if (got == 0) break;
    hash.Update(buffer.data(), static_cast<size_t>(got));
    offset += static_cast<uint64_t>(got);
    progress(offset);
  }
  if (offset != size) {
    throw store::BlobFileUnreadable("it holds " + std::to_string(offset) + " bytes, not the " +
                                    std::to_string(size) +
                                    " it had when opened: it changed while read");
  }
  return hash.Finish();
}

// The blobs being copied by the workers, and what became of them.
class BlobCopy {
 public:
  BlobCopy(const BlobInventory& inventory, store::S3Client& client, store::S3BlobStore* store,
           const BlobCopyOptions& options, std::ostream& out)
      : inventory_(inventory), client_(client), store_(store), options_(options), out_(out) {}

  BlobCopyReport Run() {
    const size_t jobs = std::min<size_t>(std::max(1u, options_.jobs), inventory_.blobs.size());
    std::vector<std::thread> workers;
    for (size_t i = 0; i < jobs; ++i) {
      workers.emplace_back([this] { Work(); });
    }
    {
      std::unique_lock lock(mu_);
      while (
          !done_.wait_for(lock, kProgressInterval, [&] { return finished_ == workers.size(); })) {
        out_ << "  blobs: " << handled_ << " of " << inventory_.blobs.size() << " done, "
             << HumanBytes(handled_bytes_) << " of " << HumanBytes(inventory_.bytes) << std::endl;
      }
    }
    for (std::thread& t : workers) t.join();
    if (failure_) std::rethrow_exception(failure_);
    return std::move(report_);
  }

 private:
  void Work() {
    while (!stop_) {
      const size_t i = next_++;
      if (i >= inventory_.blobs.size()) break;
      try {
        Copy(inventory_.blobs[i]);
      } catch (...) {
        std::lock_guard lock(mu_);
        if (!failure_) failure_ = std::current_exception();
        stop_ = true;
      }
    }
    std::lock_guard lock(mu_);
    ++finished_;
    done_.notify_all();
  }

  // Copies one blob, counting its bytes for the progress lines as they are read.
  void Copy(const BlobFile& blob) {
    uint64_t counted = 0;  // of the blob's bytes, in handled_bytes_ already
    auto count = [&](uint64_t read) {
      const uint64_t now = std::min(read, blob.size);
      if (now > counted) handled_bytes_ += now - counted;
      counted = std::max(counted, now);
    };
    Transfer(blob, count);
    count(blob.size);
    ++handled_;
  }

  void Transfer(const BlobFile& blob, const std::function<void(uint64_t)>& progress) {
    std::optional<store::ObjectInfo> there =
        client_.HeadObject(store::S3BlobStore::BlobKey(blob.digest));
    if (there && there->size == blob.size) {
      std::lock_guard lock(mu_);
      ++report_.present;
      report_.present_bytes += blob.size;
      report_.in_target.insert(blob.digest.str());
      return;
    }
    store::FileHandle file(::open(blob.path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!file.valid() || ::fstat(file.get(), &st) != 0) {
      return Refuse(blob, std::string("cannot open it: ") + std::strerror(errno));
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > store::S3BlobStore::kMaxBlobBytes) {
      return Refuse(blob, "it holds " + HumanBytes(size) +
                              ": an S3 upload holds 10,000 parts of 16 MiB at most (156.25 GiB)");
    }
    // A failure of the target is not this blob's: it ends the copy (Run rethrows it).
    std::optional<core::Digest> got;
    try {
      got = store_ ? store_->PutBlobFromFile(blob.digest, file.get(), size, progress)
                   : HashFile(file.get(), size, progress);
    } catch (const store::BlobFileUnreadable& e) {
      return Refuse(blob, e.what());
    }
    if (!(*got == blob.digest)) {
      return Refuse(blob, "its bytes hash to " + got->str() + ", not to the digest it is named by");
    }
    std::lock_guard lock(mu_);
    ++report_.copied;
    report_.copied_bytes += size;
    if (there) ++report_.replaced;
    report_.in_target.insert(blob.digest.str());
  }

  void Refuse(const BlobFile& blob, const std::string& why) {
    std::string line = blob.path + ": " + why + ": not copied";
    std::lock_guard lock(mu_);
    out_ << "  refused " << line << std::endl;
    report_.refused.push_back(std::move(line));
  }

  const BlobInventory& inventory_;
  store::S3Client& client_;
  store::S3BlobStore* const store_;
  const BlobCopyOptions& options_;
  std::ostream& out_;

  std::atomic<size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable done_;
  size_t finished_ = 0;  // workers done (guarded by mu_)
  std::atomic<size_t> handled_{0};
  std::atomic<uint64_t> handled_bytes_{0};  // of the blobs handled, and read of those in hand
  BlobCopyReport report_;                   // guarded by mu_
  std::exception_ptr failure_;              // the first worker's that failed (guarded by mu_)
};

}  // namespace

BlobInventory ListBlobFiles(const std::string& data_dir) {
  BlobInventory inventory;
  const fs::path root = fs::path(data_dir) / "blobs";
  std::error_code ec;
  if (!fs::exists(root, ec)) return inventory;
  fs::recursive_directory_iterator it(root, ec);
  if (ec) throw std::runtime_error("cannot read " + root.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw std::runtime_error("cannot read " + root.string() + ": " + ec.message());
    if (it->is_directory(ec)) continue;
    const fs::path relative = it->path().lexically_relative(root);
    std::vector<std::string> parts;
    for (const fs::path& part : relative) parts.push_back(part.string());
    std::optional<core::Digest> digest;
    if (parts.size() == 3 && it->is_regular_file(ec)) {
      digest = core::ParseDigest(parts[0] + ":" + parts[2]);
      if (digest && parts[1] != digest->hex().substr(0, 2)) digest.reset();
    }
    if (!digest) {
      inventory.ignored.push_back(it->path().string());
      continue;
    }
    if (digest->algorithm() != "sha256") {
      inventory.unverifiable.push_back(it->path().string());
      continue;
    }
    const uint64_t size = it->file_size(ec);
    if (ec) throw std::runtime_error("cannot read " + it->path().string() + ": " + ec.message());
    inventory.blobs.push_back({*digest, it->path().string(), size});
    inventory.bytes += size;
  }
  std::sort(inventory.blobs.begin(), inventory.blobs.end(),
            [](const BlobFile& a, const BlobFile& b) { return a.path < b.path; });
  return inventory;
}

BlobCopyReport CopyBlobs(const BlobInventory& inventory, store::S3Client& client,
                         store::S3BlobStore* store, const BlobCopyOptions& options,
                         std::ostream& out) {
  return BlobCopy(inventory, client, store, options, out).Run();
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  for (value /= 1024; value >= 1024 && unit + 1 < std::size(kUnits); value /= 1024) ++unit;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

}  // namespace kura::cli
