// A SQLite VFS for power-loss tests: it wraps the default (unix) VFS and keeps every write and
// truncate of a database, WAL or journal file in memory, as the kernel's page cache does, until
// xSync of that file writes them to the real file. The real files are therefore what a disk holds
// after a power cut. A file's creation or deletion is durable only once its directory is synced,
// and the model syncs a directory exactly where the unix VFS does: on the first xSync of a
// journal or WAL file it opened with SQLITE_OPEN_CREATE, and on xDelete with syncDir.
//
// Use: construct (it becomes the default VFS, so every SqliteConnection opened afterwards goes
// through it), optionally CutPowerAt(n), run the workload, close every connection, then
// LoseUnsynced(): the real files are left as the power cut leaves them, ready to be reopened
// through the real VFS (the destructor, or UseRealVfs(), makes that the default again).
//
// What it does not model: torn writes within a sector (unix claims powersafe overwrite, and
// SQLite relies on it), a disk or file system that lies about fsync, and the -shm index (not
// durable state: the first connection after a crash rebuilds it from the WAL).
#pragma once

#include <cstdint>

namespace kura::store::testing {

class PowerLossVfs {
 public:
  // What a power cut keeps of the writes not synced yet.
  enum class Loss {
    kDropUnsynced,  // nothing: every file as of its last xSync
    kSomeUnsynced,  // each unsynced write or truncate reached the disk or not, by chance
  };

  PowerLossVfs();
  ~PowerLossVfs();
  PowerLossVfs(const PowerLossVfs&) = delete;
  PowerLossVfs& operator=(const PowerLossVfs&) = delete;

  // The `n`-th (1-based) write, truncate, sync or delete from now on fails, and the machine is
  // dead from then on: every later I/O call fails too (closing and unlocking still work, so the
  // connections can be closed). 0: never.
  void CutPowerAt(int n);
  // Writes, truncates, syncs and deletes counted since the last CutPowerAt (or construction).
  int calls() const;
  // True once the power was cut.
  bool dead() const;
  // Syncs made so far (every file), since the last CutPowerAt.
  int syncs() const;

  // Every connection through this VFS must be closed. Leaves the real files as the power cut
  // left them (`how`, with `seed` choosing for kSomeUnsynced), forgets everything unsynced, and
  // is alive again.
  void LoseUnsynced(Loss how, uint32_t seed = 0);

  // The default VFS is the real one again (this one stays registered until destruction).
  void UseRealVfs();
  // This VFS is the default again.
  void UseThisVfs();
};

}  // namespace kura::store::testing
