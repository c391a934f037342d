package io.procwatch.bpf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The running kernel's type information (/sys/kernel/btf/vmlinux), read just far enough to find
 * where a struct member lives and which type id a kernel function has.
 *
 * <p>procwatch assembles its one BPF program at run time instead of shipping a compiled object,
 * so field offsets in {@code task_struct} and {@code mm_struct} come from here: they change with
 * every kernel build and configuration.
 */
public final class Btf implements AutoCloseable {
    public static final Path VMLINUX = Path.of("/sys/kernel/btf/vmlinux");

    static final int KIND_INT = 1;
    static final int KIND_PTR = 2;
    static final int KIND_ARRAY = 3;
    static final int KIND_STRUCT = 4;
    static final int KIND_UNION = 5;
    static final int KIND_ENUM = 6;
    static final int KIND_FWD = 7;
    static final int KIND_TYPEDEF = 8;
    static final int KIND_VOLATILE = 9;
    static final int KIND_CONST = 10;
    static final int KIND_RESTRICT = 11;
    static final int KIND_FUNC = 12;
    static final int KIND_FUNC_PROTO = 13;
    static final int KIND_VAR = 14;
    static final int KIND_DATASEC = 15;
    static final int KIND_FLOAT = 16;
    static final int KIND_DECL_TAG = 17;
    static final int KIND_TYPE_TAG = 18;
    static final int KIND_ENUM64 = 19;

    /** A member found by {@link #member}: byte offset from the start of the outer struct, and size. */
    public record Member(int offset, int size, int typeId) {
    }

    private final ByteBuffer types;
    private final ByteBuffer strings;
    /**
     * Where each type's record starts in the type section, by type id (0 is void). Only this is
     * kept per type (vmlinux has ~150,000): headers are read from the section when needed, and
     * names are compared in place, so parsing allocates ~600 KB and not a record per type.
     */
    private final int[] pos;
    private final Map<String, Integer> named = new HashMap<>();

    private final java.lang.foreign.Arena arena;

    private Btf(ByteBuffer data, java.lang.foreign.Arena arena) {
        this.arena = arena;
        data.order(ByteOrder.LITTLE_ENDIAN);
        if ((data.getShort(0) & 0xffff) != 0xeB9F) {
            throw new IllegalArgumentException("not BTF (bad magic)");
        }
        int hdrLen = data.getInt(4);
        int typeOff = data.getInt(8);
        int typeLen = data.getInt(12);
        int strOff = data.getInt(16);
        int strLen = data.getInt(20);
        if (hdrLen < 24 || typeOff < 0 || typeLen < 0 || strOff < 0 || strLen < 0
                || (long) hdrLen + typeOff + typeLen > data.capacity() || (long) hdrLen + strOff + strLen > data.capacity()) {
            throw new IllegalArgumentException("BTF truncated or corrupt: sections end past its " + data.capacity() + " bytes");
        }
        types = data.slice(hdrLen + typeOff, typeLen).order(ByteOrder.LITTLE_ENDIAN);
        strings = data.slice(hdrLen + strOff, strLen).order(ByteOrder.LITTLE_ENDIAN);
        int[] at = new int[1 << 16];
        int count = 1; // type id 0 is void
        int p = 0;
        while (p < typeLen) {
            if (p + 12 > typeLen) {
                throw new IllegalArgumentException("BTF type section truncated at type " + count);
            }
            int info = types.getInt(p + 4);
            int kind = (info >>> 24) & 0x1f;
            int vlen = info & 0xffff;
            if (count == at.length) {
                at = java.util.Arrays.copyOf(at, at.length * 2);
            }
            at[count++] = p;
            p += 12 + switch (kind) {
                case KIND_INT, KIND_VAR, KIND_DECL_TAG -> 4;
                case KIND_ARRAY -> 12;
                case KIND_STRUCT, KIND_UNION, KIND_DATASEC, KIND_ENUM64 -> 12 * vlen;
                case KIND_ENUM, KIND_FUNC_PROTO -> 8 * vlen;
                case KIND_PTR, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT,
                     KIND_FUNC, KIND_FLOAT, KIND_TYPE_TAG -> 0;
                default -> throw new IllegalArgumentException("unknown BTF kind " + kind + " at type " + (count - 1));
            };
        }
        pos = java.util.Arrays.copyOf(at, count);
    }

    /**
     * Reads the file into native memory that {@link #close} frees at once: vmlinux's BTF is ~6 MB,
     * needed only while a program is assembled, and the daemon's heap and resident size stay small.
     */
    public static Btf load(Path path) throws IOException {
        java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(path)) {
            long size = Math.max(Files.size(path), 1);
            java.lang.foreign.MemorySegment seg = arena.allocate(size);
            ByteBuffer buf = seg.asByteBuffer();
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // the file's size is known: read until it is in
            }
            Btf b = new Btf(buf.flip().slice(), arena);
            return b;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public static Btf parse(byte[] data) {
        return new Btf(ByteBuffer.wrap(data), null);
    }

    /** Frees what {@link #load} read; the Btf may not be used after. */
    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
    }

    private int kind(int id) {
        return (types.getInt(pos[id] + 4) >>> 24) & 0x1f;
    }

    private int vlen(int id) {
        return types.getInt(pos[id] + 4) & 0xffff;
    }

    private boolean kindFlag(int id) {
        return types.getInt(pos[id] + 4) < 0;
    }

    private int sizeOrType(int id) {
        return types.getInt(pos[id] + 8);
    }

    /** Whether the NUL-terminated string at {@code off} is {@code name} (ASCII), without making a String. */
    private boolean nameIs(int off, byte[] name) {
        if (off + name.length >= strings.capacity()) {
            return false;
        }
        for (int i = 0; i < name.length; i++) {
            if (strings.get(off + i) != name[i]) {
                return false;
            }
        }
        return strings.get(off + name.length) == 0;
    }

    /** The first type of {@code kind} named {@code name}, or -1 (found once, then remembered). */
    private int find(int kind, String name) {
        return named.computeIfAbsent(kind + ":" + name, k -> {
            byte[] want = name.getBytes(StandardCharsets.US_ASCII);
            for (int id = 1; id < pos.length; id++) {
                int nameOff = types.getInt(pos[id]);
                if (nameOff != 0 && kind(id) == kind && nameIs(nameOff, want)) {
                    return id;
                }
            }
            return -1;
        });
    }

    /** The type id of a kernel function (a BPF program's attach point), or -1. */
    public int funcId(String name) {
        return find(KIND_FUNC, name);
    }

    /**
     * The type id of a typedef, or -1. A tracepoint's BTF attach point is the typedef
     * {@code btf_trace_<name>} of its probe's prototype.
     */
    public int typedefId(String name) {
        return find(KIND_TYPEDEF, name);
    }

    /**
     * A member of a struct by dotted path ({@code "se.sum_exec_runtime"}), looking through
     * anonymous structs and unions as C does; null when the kernel has no such member (or it is a
     * bit field, which a plain load cannot read).
     */
    public Member member(String struct, String path) {
        int id = find(KIND_STRUCT, struct);
        if (id < 0) {
            return null;
        }
        int offset = 0;
        int typeId = id;
        for (String part : path.split("\\.")) {
            Member m = memberOf(resolve(typeId), part);
            if (m == null) {
                return null;
            }
            offset += m.offset;
            typeId = m.typeId;
        }
        return new Member(offset, sizeOf(typeId), typeId);
    }

    private boolean valid(int id) {
        return id > 0 && id < pos.length;
    }

    /** Element type id and count of an array type (after typedefs), or null if it is not an array. */
    public int[] array(int typeId) {
        int id = resolve(typeId);
        if (!valid(id) || kind(id) != KIND_ARRAY) {
            return null;
        }
        return new int[] {types.getInt(pos[id] + 12), types.getInt(pos[id] + 20)};
    }

    /** A member of the struct that {@code typeId} names (after typedefs), or null. */
    public Member member(int typeId, String name) {
        Member m = memberOf(resolve(typeId), name);
        return m == null ? null : new Member(m.offset, sizeOf(m.typeId), m.typeId);
    }

    public int sizeOf(int typeId) {
        int id = resolve(typeId);
        if (!valid(id)) {
            return -1;
        }
        return switch (kind(id)) {
            case KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_FLOAT -> sizeOrType(id);
            case KIND_PTR -> 8;
            case KIND_ARRAY -> sizeOf(types.getInt(pos[id] + 12)) * types.getInt(pos[id] + 20);
            default -> -1;
        };
    }

    /** Follows typedefs and qualifiers to the type that has a layout. */
    private int resolve(int typeId) {
        for (int guard = 0; guard < 32; guard++) {
            if (!valid(typeId)) {
                return typeId;
            }
            switch (kind(typeId)) {
                case KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG -> typeId = sizeOrType(typeId);
                default -> {
                    return typeId;
                }
            }
        }
        throw new IllegalArgumentException("BTF type chain too long at " + typeId);
    }

    private Member memberOf(int structId, String name) {
        if (!valid(structId) || (kind(structId) != KIND_STRUCT && kind(structId) != KIND_UNION)) {
            return null;
        }
        boolean flag = kindFlag(structId);
        byte[] want = name.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < vlen(structId); i++) {
            int at = pos[structId] + 12 + 12 * i;
            int nameOff = types.getInt(at);
            int type = types.getInt(at + 4);
            int bits = types.getInt(at + 8);
            int bitOffset = flag ? bits & 0xffffff : bits;
            boolean bitField = flag && (bits >>> 24) != 0;
            if (nameOff == 0) {
                Member inner = memberOf(resolve(type), name); // anonymous struct or union
                if (inner != null) {
                    return new Member(bitOffset / 8 + inner.offset, inner.size, inner.typeId);
                }
            } else if (nameIs(nameOff, want)) {
                if (bitField || bitOffset % 8 != 0) {
                    return null;
                }
                return new Member(bitOffset / 8, sizeOf(type), type);
            }
        }
        return null;
    }
}
