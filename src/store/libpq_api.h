// libpq, loaded at run time: the functions of libpq.so.5 that the PostgreSQL stores call, looked
// up on first use.
//
// Why not link it: the kura binary links OpenSSL statically (CMakeLists.txt, KURA_STATIC_DEPS)
// while libpq.so depends on the shared libssl.so.3, so linking libpq would put two OpenSSLs into
// every process and map the shared one into the embedded single-node server too, which never
// talks to PostgreSQL and whose resident memory is counted (bench/README.md). Loaded with
// RTLD_LOCAL only when a PostgreSQL store is opened, libpq and its libssl stay out of every
// other process and out of the global symbol namespace.
//
// The header libpq-fe.h (package libpq-dev) is needed to build; the library (libpq5) only on a
// machine that uses PostgreSQL.
#pragma once

#include <libpq-fe.h>

namespace kura::store {

// Each function of libpq the stores use, X(name), typed from libpq-fe.h.
#define KURA_LIBPQ_FUNCTIONS(X) \
  X(PQlibVersion)               \
  X(PQconnectdbParams)          \
  X(PQstatus)                   \
  X(PQerrorMessage)             \
  X(PQfinish)                   \
  X(PQsetNoticeProcessor)       \
  X(PQsocket)                   \
  X(PQbackendPID)               \
  X(PQtransactionStatus)        \
  X(PQsendQuery)                \
  X(PQsendPrepare)              \
  X(PQsendQueryPrepared)        \
  X(PQconsumeInput)             \
  X(PQisBusy)                   \
  X(PQgetResult)                \
  X(PQgetCopyData)              \
  X(PQfreemem)                  \
  X(PQresultStatus)             \
  X(PQresultErrorMessage)       \
  X(PQresultErrorField)         \
  X(PQclear)                    \
  X(PQntuples)                  \
  X(PQnfields)                  \
  X(PQftype)                    \
  X(PQgetvalue)                 \
  X(PQgetlength)                \
  X(PQgetisnull)                \
  X(PQcmdTuples)

struct LibPq {
#define KURA_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  KURA_LIBPQ_FUNCTIONS(KURA_LIBPQ_MEMBER)
#undef KURA_LIBPQ_MEMBER
};

// libpq's functions. The first call loads libpq.so.5 (thread-safe; later calls return the same
// table at once). Throws StoreError("cannot load libpq.so.5: ...") when the library or one of its
// functions is missing; the next call tries again.
const LibPq& Libpq();

}  // namespace kura::store
