#include "store/power_loss_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kura::store::testing {
namespace {

// A write (or, with `truncate`, a truncate to `offset`) not synced yet.
struct PendingOp {
  bool truncate = false;
  int64_t offset = 0;
  std::string bytes;
};

// What the page cache holds of one file: its current content, and what of it is not on disk.
struct Image {
  std::string data;
  std::vector<PendingOp> unsynced;
  int opens = 0;
};

struct State {
  std::mutex mu;
  sqlite3_vfs* real = nullptr;
  sqlite3_vfs vfs{};
  std::map<std::string, Image> images;  // by path; kept after close, as the page cache is
  std::set<std::string> created;        // files whose directory entry is not durable yet
  std::map<std::string, std::string> deleted;  // unlinked, the unlink not durable: their content
  int calls = 0;
  int cut_at = 0;
  int syncs = 0;
  bool dead = false;

  // Counts one mutating call; true when the machine is (now) dead.
  bool Tick() {
    if (dead) return true;
    ++calls;
    if (cut_at > 0 && calls == cut_at) dead = true;
    return dead;
  }
};

State& state() {
  static State s;
  return s;
}

constexpr const char* kVfsName = "kura-power-loss";

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// fsync of a directory: its pending creations and deletions are durable from now on.
void SyncDirectory(State& s, const std::string& dir) {
  for (auto it = s.created.begin(); it != s.created.end();) {
    it = DirOf(*it) == dir ? s.created.erase(it) : std::next(it);
  }
  for (auto it = s.deleted.begin(); it != s.deleted.end();) {
    it = DirOf(it->first) == dir ? s.deleted.erase(it) : std::next(it);
  }
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  Image* image;            // nullptr: a temporary file, passed straight through
  const std::string* path;  // the key of `image`
  bool dirsync;            // the first xSync syncs the directory (as the unix VFS does)
};

ShimFile* Shim(sqlite3_file* f) {
  return reinterpret_cast<ShimFile*>(f);
}
sqlite3_file* Real(sqlite3_file* f) {
  return Shim(f)->real;
}
const sqlite3_io_methods* RealMethods(sqlite3_file* f) {
  return Real(f)->pMethods;
}

int ShimClose(sqlite3_file* f) {
  State& s = state();
  ShimFile* shim = Shim(f);
  if (shim->image) {
    std::lock_guard lock(s.mu);
    --shim->image->opens;
  }
  return RealMethods(f)->xClose(Real(f));
}

int ShimRead(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) {
  ShimFile* shim = Shim(f);
  if (!shim->image) return RealMethods(f)->xRead(Real(f), buf, amount, offset);
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.dead) return SQLITE_IOERR_READ;
  const std::string& data = shim->image->data;
  auto n = static_cast<size_t>(amount);
  auto at = static_cast<size_t>(offset);
  size_t have = at < data.size() ? std::min(n, data.size() - at) : 0;
  if (have > 0) std::memcpy(buf, data.data() + at, have);
  if (have == n) return SQLITE_OK;
  std::memset(static_cast<char*>(buf) + have, 0, n - have);
  return SQLITE_IOERR_SHORT_READ;
}

int ShimWrite(sqlite3_file* f, const void* buf, int amount, sqlite3_int64 offset) {
  ShimFile* shim = Shim(f);
  if (!shim->image) return RealMethods(f)->xWrite(Real(f), buf, amount, offset);
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.Tick()) return SQLITE_IOERR_WRITE;
  std::string& data = shim->image->data;
  auto n = static_cast<size_t>(amount);
  auto at = static_cast<size_t>(offset);
  if (data.size() < at + n) data.resize(at + n, '\0');
  std::memcpy(data.data() + at, buf, n);
  shim->image->unsynced.push_back(
      PendingOp{false, offset, std::string(static_cast<const char*>(buf), n)});
  return SQLITE_OK;
}

int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  ShimFile* shim = Shim(f);
  if (!shim->image) return RealMethods(f)->xTruncate(Real(f), size);
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.Tick()) return SQLITE_IOERR_TRUNCATE;
  shim->image->data.resize(static_cast<size_t>(size), '\0');
  shim->image->unsynced.push_back(PendingOp{true, size, {}});
  return SQLITE_OK;
}

int ShimSync(sqlite3_file* f, int flags) {
  ShimFile* shim = Shim(f);
  if (!shim->image) return RealMethods(f)->xSync(Real(f), flags);
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.Tick()) return SQLITE_IOERR_FSYNC;
  // What reaches the real file is durable: it is the disk. (No real fsync: the test is about
  // what SQLite asks for, not about this machine's disk.)
  for (const PendingOp& op : shim->image->unsynced) {
    int rc = op.truncate ? RealMethods(f)->xTruncate(Real(f), op.offset)
                         : RealMethods(f)->xWrite(Real(f), op.bytes.data(),
                                                  static_cast<int>(op.bytes.size()), op.offset);
    if (rc != SQLITE_OK) return rc;
  }
  shim->image->unsynced.clear();
  ++s.syncs;
  if (shim->dirsync) {
    SyncDirectory(s, DirOf(*shim->path));
    shim->dirsync = false;
  }
  return SQLITE_OK;
}

int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  ShimFile* shim = Shim(f);
  if (!shim->image) return RealMethods(f)->xFileSize(Real(f), size);
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.dead) return SQLITE_IOERR_FSTAT;
  *size = static_cast<sqlite3_int64>(shim->image->data.size());
  return SQLITE_OK;
}

bool Dead() {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.dead;
}

int ShimLock(sqlite3_file* f, int level) {
  if (Shim(f)->image && Dead()) return SQLITE_IOERR_LOCK;
  return RealMethods(f)->xLock(Real(f), level);
}
int ShimUnlock(sqlite3_file* f, int level) {
  return RealMethods(f)->xUnlock(Real(f), level);
}
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  if (Shim(f)->image && Dead()) return SQLITE_IOERR_CHECKRESERVEDLOCK;
  return RealMethods(f)->xCheckReservedLock(Real(f), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  // Size hints would grow the real file behind the model's back.
  if (Shim(f)->image && (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)) {
    return SQLITE_NOTFOUND;
  }
  return RealMethods(f)->xFileControl(Real(f), op, arg);
}
int ShimSectorSize(sqlite3_file* f) {
  return RealMethods(f)->xSectorSize(Real(f));
}
int ShimDeviceCharacteristics(sqlite3_file* f) {
  return RealMethods(f)->xDeviceCharacteristics(Real(f));
}
int ShimShmMap(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  if (Dead()) return SQLITE_IOERR_SHMMAP;
  return RealMethods(f)->xShmMap(Real(f), page, page_size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if ((flags & SQLITE_SHM_LOCK) && Dead()) return SQLITE_IOERR_SHMLOCK;
  return RealMethods(f)->xShmLock(Real(f), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) {
  RealMethods(f)->xShmBarrier(Real(f));
}
int ShimShmUnmap(sqlite3_file* f, int delete_flag) {
  return RealMethods(f)->xShmUnmap(Real(f), delete_flag && !Dead());
}

const sqlite3_io_methods kMethods = {
    2,  // no xFetch: every read goes through xRead
    ShimClose,
    ShimRead,
    ShimWrite,
    ShimTruncate,
    ShimSync,
    ShimFileSize,
    ShimLock,
    ShimUnlock,
    ShimCheckReservedLock,
    ShimFileControl,
    ShimSectorSize,
    ShimDeviceCharacteristics,
    ShimShmMap,
    ShimShmLock,
    ShimShmBarrier,
    ShimShmUnmap,
    nullptr,
    nullptr,
};

int ShimOpen(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* f, int flags,
             int* out_flags) {
  State& s = state();
  ShimFile* shim = Shim(f);
  shim->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(ShimFile));
  shim->image = nullptr;
  shim->path = nullptr;
  shim->dirsync = false;
  f->pMethods = nullptr;
  const int type = flags & 0x0FFFFF00;
  const bool tracked = name != nullptr && (type == SQLITE_OPEN_MAIN_DB ||
                                           type == SQLITE_OPEN_MAIN_JOURNAL ||
                                           type == SQLITE_OPEN_WAL ||
                                           type == SQLITE_OPEN_SUPER_JOURNAL);
  if (tracked && Dead()) return SQLITE_CANTOPEN;
  std::string path = tracked ? std::string(name) : std::string();
  bool existed = false;
  if (tracked) {
    std::lock_guard lock(s.mu);
    existed = s.images.count(path) > 0 || ::access(path.c_str(), F_OK) == 0;
  }
  int rc = s.real->xOpen(s.real, name, shim->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  f->pMethods = &kMethods;
  if (!tracked) return SQLITE_OK;
  std::lock_guard lock(s.mu);
  auto [it, fresh] = s.images.try_emplace(path);
  if (fresh) it->second.data = ReadWholeFile(path);
  ++it->second.opens;
  shim->image = &it->second;
  shim->path = &it->first;
  if (!existed) s.created.insert(path);
  // As unixOpen: a journal or WAL opened to be created syncs its directory at its first sync.
  shim->dirsync = (flags & SQLITE_OPEN_CREATE) &&
                  (type == SQLITE_OPEN_MAIN_JOURNAL || type == SQLITE_OPEN_WAL ||
                   type == SQLITE_OPEN_SUPER_JOURNAL);
  return SQLITE_OK;
}

int ShimDelete(sqlite3_vfs* /*vfs*/, const char* name, int sync_dir) {
  State& s = state();
  std::string path(name);
  {
    std::lock_guard lock(s.mu);
    if (s.Tick()) return SQLITE_IOERR_DELETE;
    auto it = s.images.find(path);
    if (it != s.images.end() && it->second.opens == 0) s.images.erase(it);
    if (s.created.erase(path) == 0 && s.deleted.count(path) == 0 &&
        ::access(path.c_str(), F_OK) == 0) {
      s.deleted[path] = ReadWholeFile(path);  // what the disk holds; the unlink is not durable
    }
  }
  int rc = s.real->xDelete(s.real, name, 0);
  if (rc != SQLITE_OK) return rc;
  std::lock_guard lock(s.mu);
  if (sync_dir) SyncDirectory(s, DirOf(path));
  return SQLITE_OK;
}

int ShimAccess(sqlite3_vfs* /*vfs*/, const char* name, int flags, int* out) {
  State& s = state();
  {
    std::lock_guard lock(s.mu);
    if (s.dead) return SQLITE_IOERR_ACCESS;
    auto it = s.images.find(name);
    // As the unix VFS: an empty file does not exist. The page cache's size counts.
    if (it != s.images.end() && flags == SQLITE_ACCESS_EXISTS) {
      *out = it->second.data.empty() ? 0 : 1;
      return SQLITE_OK;
    }
  }
  return s.real->xAccess(s.real, name, flags, out);
}

void WriteWholeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot restore " + path);
}

// Applies one unsynced write or truncate to the real file at `path`.
void Apply(const std::string& path, const PendingOp& op) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;  // unlinked since
  if (op.truncate) {
    (void)::ftruncate(fd, op.offset);
  } else {
    (void)::pwrite(fd, op.bytes.data(), op.bytes.size(), op.offset);
  }
  ::close(fd);
}

}  // namespace

PowerLossVfs::PowerLossVfs() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.real == nullptr) {
    sqlite3_initialize();
    s.real = sqlite3_vfs_find("unix");
    if (s.real == nullptr) throw std::runtime_error("no unix VFS");
    s.vfs = *s.real;
    s.vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + s.real->szOsFile;
    s.vfs.pNext = nullptr;
    s.vfs.zName = kVfsName;
    s.vfs.pAppData = nullptr;
    s.vfs.xOpen = ShimOpen;
    s.vfs.xDelete = ShimDelete;
    s.vfs.xAccess = ShimAccess;
  }
  s.images.clear();
  s.created.clear();
  s.deleted.clear();
  s.calls = s.cut_at = s.syncs = 0;
  s.dead = false;
  sqlite3_vfs_register(&s.vfs, 1);
}

PowerLossVfs::~PowerLossVfs() {
  State& s = state();
  sqlite3_vfs_register(s.real, 1);
  sqlite3_vfs_unregister(&s.vfs);
}

void PowerLossVfs::CutPowerAt(int n) {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.cut_at = n;
  s.calls = 0;
  s.syncs = 0;
}

int PowerLossVfs::calls() const {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.calls;
}

int PowerLossVfs::syncs() const {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.syncs;
}

bool PowerLossVfs::dead() const {
  return Dead();
}

void PowerLossVfs::LoseUnsynced(Loss how, uint32_t seed) {
  State& s = state();
  std::lock_guard lock(s.mu);
  std::mt19937 chance(seed);
  for (const auto& [path, image] : s.images) {
    if (image.opens > 0) throw std::logic_error(path + " is still open");
    if (how != Loss::kSomeUnsynced) continue;
    for (const PendingOp& op : image.unsynced) {
      if (chance() % 2 == 0) Apply(path, op);
    }
  }
  for (const std::string& path : s.created) ::unlink(path.c_str());
  for (const auto& [path, data] : s.deleted) WriteWholeFile(path, data);
  s.images.clear();
  s.created.clear();
  s.deleted.clear();
  s.dead = false;
  s.cut_at = 0;
}

void PowerLossVfs::UseRealVfs() {
  sqlite3_vfs_register(state().real, 1);
}

void PowerLossVfs::UseThisVfs() {
  sqlite3_vfs_register(&state().vfs, 1);
}

}  // namespace kura::store::testing
