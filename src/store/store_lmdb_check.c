/*
 * store_lmdb_check.c - checks of the LMDB structures that liblmdb trusts
 * without checking, made before LMDB touches them: liblmdb asserts (abort)
 * on a table root of 0 or 1 (mdb_page_search: "root > 1") and faults on a
 * page past the end of the file, so a corrupt data.mdb would kill the process
 * that opens it (the CLI, or a server holding many galleries).
 *
 * Layout read here (liblmdb 0.9, 64-bit; stable since the data format
 * version 1 of 2011): pages 0 and 1 of data.mdb are the two meta pages,
 * each a 16-byte page header (pgno u64, pad u16, flags u16, ...) followed by
 *   +0  magic u32 = 0xBEEFC0DE     +4  version u32 = 1
 *   +8  address u64                +16 mapsize u64
 *   +24 free-list table (MDB_db)   +72 main table (MDB_db)
 *   +120 last page number u64      +128 transaction id u64
 * and an MDB_db (48 bytes) is pad u32 (the page size, in the free-list
 * table), flags u16, depth u16, branch/leaf/overflow page counts u64,
 * entries u64, root page u64 (all host order = little-endian on x86-64).
 * The free-list table has flags MDB_INTEGERKEY, the main table and hers's
 * named tables none (they are opened without flags).
 * The named tables' MDB_db records are the values of the main table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"

#define META_MAGIC 0xBEEFC0DEu
#define META_VERSION 1u
#define PAGE_HDR 16
#define META_BYTES (PAGE_HDR + 136)
#define P_META 0x08u
#define P_INVALID (~(uint64_t)0)
#define DB_BYTES 48
#define MAX_DEPTH 32           /* liblmdb's cursor stack (CURSOR_STACK) */


/* One MDB_db record with the flags the table must have (liblmdb reads the
 * pages of a table according to its flags: a wrong MDB_DUPSORT or
 * MDB_INTEGERKEY bit makes it follow garbage pointers): an empty table has
 * root P_INVALID and depth 0; any other root is a data page,
 * 2 <= root <= last_pg. */
static const char *table_problem(const uint8_t *db, uint64_t last_pg, uint16_t flags)
{
    uint16_t depth = hers_le_get_u16(db + 6);
    uint64_t root = hers_le_get_u64(db + 40);
    if (hers_le_get_u16(db + 4) != flags)
        return "unexpected table flags";
    if (root == P_INVALID)
        return depth == 0 ? NULL : "empty table with a non-zero depth";
    if (root < 2)
        return "table root is a meta page";
    if (root > last_pg)
        return "table root past the last page";
    if (depth == 0 || depth > MAX_DEPTH)
        return "table depth out of range";
    return NULL;
}

/* The root page of a table, read with pread before LMDB maps it: its
 * header names itself (liblmdb writes every page's number into it), it is
 * a branch or a leaf page, and every node it holds lies inside it, with
 * child pages (branch) and overflow pages (leaf F_BIGDATA) within the
 * file. Deeper pages are reached only through such checked nodes. */
#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define F_BIGDATA 0x01u
static const char *page_problem(int fd, uint32_t psize, uint64_t pgno, uint64_t last_pg)
{
    uint8_t pg[65536];
    if (pgno == P_INVALID)
        return NULL;
    if (pread(fd, pg, psize, (off_t)(pgno * psize)) != (ssize_t)psize)
        return "table root page unreadable";
    uint16_t flags = hers_le_get_u16(pg + 10), lower = hers_le_get_u16(pg + 12), upper = hers_le_get_u16(pg + 14);
    int branch = (flags & P_BRANCH) != 0;
    if (hers_le_get_u64(pg) != pgno)
        return "table root page does not carry its own number";
    if ((flags & (P_BRANCH | P_LEAF)) == 0 || (flags & (P_BRANCH | P_LEAF)) == (P_BRANCH | P_LEAF) ||
        (flags & ~(P_BRANCH | P_LEAF)) != 0)
        return "table root is not a branch or leaf page";
    if (lower < PAGE_HDR || upper > psize || lower > upper || (lower - PAGE_HDR) % 2 != 0)
        return "table root page bounds out of range";
    for (uint32_t i = 0; i < (uint32_t)(lower - PAGE_HDR) / 2; i++) {
        uint32_t at = hers_le_get_u16(pg + PAGE_HDR + 2 * i);
        if (at < upper || at + 8 > psize)
            return "table root node outside its page";
        const uint8_t *node = pg + at;
        uint32_t dsize = hers_le_get_u16(node) | (uint32_t)hers_le_get_u16(node + 2) << 16;
        uint16_t nflags = hers_le_get_u16(node + 4), ksize = hers_le_get_u16(node + 6);
        if ((uint64_t)at + 8 + ksize > psize)
            return "table root key outside its page";
        if (branch) {
            uint64_t child = (uint64_t)dsize | (uint64_t)nflags << 32;
            if (child < 2 || child > last_pg)
                return "table root child page out of range";
        } else if (nflags & F_BIGDATA) {
            if ((uint64_t)at + 8 + ksize + 8 > psize)
                return "table root node outside its page";
            uint64_t ov = hers_le_get_u64(node + 8 + ksize);
            if (ov < 2 || ov > last_pg)
                return "overflow page out of range";
        } else if ((uint64_t)at + 8 + ksize + dsize > psize) {
            return "table root value outside its page";
        }
    }
    return NULL;
}

static hers_status corrupt(const char *dir, int page, const char *what)
{
    return hers_error(HERS_ERR_FORMAT, "%s: data.mdb meta page %d: %s (corrupt database)", dir, page,
                      what);
}

hers_status store_lmdb_check_file(const char *dir, const char *data_path, uint64_t *last_pg_out)
{
    int fd = open(data_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hers_error(errno == ENOENT ? HERS_ERR_NOTFOUND : HERS_ERR_IO, "%s: %s", data_path,
                          strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t m[2][META_BYTES];
    uint32_t psize = 0;
    hers_status st = HERS_OK;
    if (size < 0) {
        st = hers_error(HERS_ERR_IO, "%s: %s", data_path, strerror(errno));
        goto done;
    }
    if (pread(fd, m[0], META_BYTES, 0) != META_BYTES) {
        st = hers_error(HERS_ERR_FORMAT, "%s: data.mdb truncated (%lld bytes)", dir,
                        (long long)size);
        goto done;
    }
    psize = hers_le_get_u32(m[0] + PAGE_HDR + 24);
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0) {
        st = corrupt(dir, 0, "page size out of range");
        goto done;
    }
    if ((uint64_t)size < 2 * (uint64_t)psize ||
        pread(fd, m[1], META_BYTES, (off_t)psize) != META_BYTES) {
        st = hers_error(HERS_ERR_FORMAT, "%s: data.mdb truncated (%lld bytes)", dir,
                        (long long)size);
        goto done;
    }
    uint64_t file_pages = (uint64_t)size / psize, newest_last = 0, newest_txn = 0;
    for (int i = 0; i < 2; i++) {
        const uint8_t *pg = m[i], *mm = pg + PAGE_HDR;
        const char *why = NULL;
        uint64_t last = hers_le_get_u64(mm + 120);
        if (hers_le_get_u64(pg) != (uint64_t)i || !(hers_le_get_u16(pg + 10) & P_META))
            why = "not a meta page";
        else if (hers_le_get_u32(mm) != META_MAGIC)
            why = "bad magic";
        else if (hers_le_get_u32(mm + 4) != META_VERSION)
            why = "unsupported LMDB data version";
        else if (i == 1 && hers_le_get_u32(mm + 24) != psize)
            why = "page sizes of the two meta pages differ";
        else if (last < 1)
            why = "last page number below 1";
        else if (last >= file_pages) {
            st = hers_error(HERS_ERR_FORMAT,
                            "%s: data.mdb truncated or corrupt (%lld bytes; meta page %d names "
                            "%llu pages of %u bytes)", dir, (long long)size, i,
                            (unsigned long long)last + 1, psize);
            goto done;
        }
        if (!why && (why = table_problem(mm + 24, last, MDB_INTEGERKEY)) == NULL &&
                 (why = table_problem(mm + 72, last, 0)) == NULL) {
            /* hers's main table holds exactly its four named tables (one
             * leaf page), or nothing in the meta page of the empty
             * environment that precedes the creating transaction */
            uint16_t depth = hers_le_get_u16(mm + 72 + 6);
            uint64_t entries = hers_le_get_u64(mm + 72 + 32);
            if (!(depth == 1 && entries == 4) && !(depth == 0 && entries == 0))
                why = "main table is not the four hers tables";
            else if ((why = page_problem(fd, psize, hers_le_get_u64(mm + 72 + 40), last)) == NULL)
                why = page_problem(fd, psize, hers_le_get_u64(mm + 24 + 40), last);
        }
        if (why) {
            st = corrupt(dir, i, why);
            goto done;
        }
        if (i == 0 || hers_le_get_u64(mm + 128) > newest_txn) {
            newest_txn = hers_le_get_u64(mm + 128);
            newest_last = last;
        }
    }
    if (last_pg_out)
        *last_pg_out = newest_last;
done:
    close(fd);
    return st;
}

hers_status store_lmdb_check_tables(const hers_store *db, MDB_txn *txn, uint64_t last_pg,
                                    const char *const *names)
{
    MDB_stat ms;
    MDB_dbi main_dbi;
    int fd = -1;
    size_t n = strlen(db->dir);
    char path[4096];
    if (n + sizeof "/data.mdb" > sizeof path)
        return hers_error(HERS_ERR_ARG, "%s: path too long", db->dir);
    memcpy(path, db->dir, n);
    memcpy(path + n, "/data.mdb", sizeof "/data.mdb");
    int rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc)
        return store_mdb_error(db, rc, "opening the main table");
    for (size_t i = 0; names[i]; i++) {
        MDB_val k = {strlen(names[i]), (void *)names[i]}, v;
        rc = mdb_get(txn, main_dbi, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;    /* reported by the caller as a missing table */
        if (rc) {
            if (fd >= 0)
                close(fd);
            return store_mdb_error(db, rc, "reading the table records");
        }
        const char *why = v.mv_size != DB_BYTES ? "malformed table record"
                                                : table_problem(v.mv_data, last_pg, 0);
        if (!why) {
            if (fd < 0 && ((rc = mdb_env_stat(mdb_txn_env(txn), &ms)) != 0 ||
                           (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0))
                return rc ? store_mdb_error(db, rc, "environment")
                          : hers_error(HERS_ERR_IO, "%s: %s", path, strerror(errno));
            why = page_problem(fd, ms.ms_psize, hers_le_get_u64((const uint8_t *)v.mv_data + 40), last_pg);
        }
        if (why && fd >= 0)
            close(fd);
        if (why)
            return hers_error(HERS_ERR_FORMAT, "%s: data.mdb table '%s': %s (corrupt database)",
                              db->dir, names[i], why);
    }
    if (fd >= 0)
        close(fd);
    return HERS_OK;
}
