package io.procwatch.bpf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The running kernel's type information (/sys/kernel/btf/vmlinux), read just far enough to find
 * where a struct member lives and which type id a kernel function has.
 *
 * <p>procwatch assembles its one BPF program at run time instead of shipping a compiled object,
 * so field offsets in {@code task_struct} and {@code mm_struct} come from here: they change with
 * every kernel build and configuration.
 */
public final class Btf {
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

    /** One type record: where it starts in the type section, and its decoded header. */
    private record Type(int nameOff, int kind, int vlen, boolean kindFlag, int sizeOrType, int pos) {
    }

    /** A member found by {@link #member}: byte offset from the start of the outer struct, and size. */
    public record Member(int offset, int size, int typeId) {
    }

    private final ByteBuffer types;
    private final ByteBuffer strings;
    private final List<Type> byId = new ArrayList<>();
    private final Map<String, Integer> structs = new HashMap<>();
    private final Map<String, Integer> funcs = new HashMap<>();
    private final Map<String, Integer> typedefs = new HashMap<>();

    private Btf(ByteBuffer data) {
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
        byId.add(null); // type id 0 is void
        int pos = 0;
        while (pos < typeLen) {
            int nameOff = types.getInt(pos);
            int info = types.getInt(pos + 4);
            int kind = (info >>> 24) & 0x1f;
            int vlen = info & 0xffff;
            Type t = new Type(nameOff, kind, vlen, info < 0, types.getInt(pos + 8), pos);
            int id = byId.size();
            byId.add(t);
            if (nameOff != 0 && (kind == KIND_STRUCT || kind == KIND_FUNC || kind == KIND_TYPEDEF)) {
                (kind == KIND_STRUCT ? structs : kind == KIND_FUNC ? funcs : typedefs).putIfAbsent(name(nameOff), id);
            }
            pos += 12 + switch (kind) {
                case KIND_INT, KIND_VAR, KIND_DECL_TAG -> 4;
                case KIND_ARRAY -> 12;
                case KIND_STRUCT, KIND_UNION, KIND_DATASEC, KIND_ENUM64 -> 12 * vlen;
                case KIND_ENUM, KIND_FUNC_PROTO -> 8 * vlen;
                case KIND_PTR, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT,
                     KIND_FUNC, KIND_FLOAT, KIND_TYPE_TAG -> 0;
                default -> throw new IllegalArgumentException("unknown BTF kind " + kind + " at type " + id);
            };
        }
    }

    public static Btf load(Path path) throws IOException {
        return new Btf(ByteBuffer.wrap(Files.readAllBytes(path)));
    }

    public static Btf parse(byte[] data) {
        return new Btf(ByteBuffer.wrap(data));
    }

    private String name(int off) {
        int end = off;
        while (strings.get(end) != 0) {
            end++;
        }
        byte[] b = new byte[end - off];
        strings.get(off, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** The type id of a kernel function (a BPF program's attach point), or -1. */
    public int funcId(String name) {
        return funcs.getOrDefault(name, -1);
    }

    /**
     * The type id of a typedef, or -1. A tracepoint's BTF attach point is the typedef
     * {@code btf_trace_<name>} of its probe's prototype.
     */
    public int typedefId(String name) {
        return typedefs.getOrDefault(name, -1);
    }

    /**
     * A member of a struct by dotted path ({@code "se.sum_exec_runtime"}), looking through
     * anonymous structs and unions as C does; null when the kernel has no such member (or it is a
     * bit field, which a plain load cannot read).
     */
    public Member member(String struct, String path) {
        Integer id = structs.get(struct);
        if (id == null) {
            return null;
        }
        int offset = 0;
        int typeId = id;
        for (String part : path.split("\\.")) {
            Member m = find(resolve(typeId), part);
            if (m == null) {
                return null;
            }
            offset += m.offset;
            typeId = m.typeId;
        }
        return new Member(offset, sizeOf(typeId), typeId);
    }

    /** Element type id and count of an array type (after typedefs), or null if it is not an array. */
    public int[] array(int typeId) {
        Type t = byId.get(resolve(typeId));
        if (t.kind != KIND_ARRAY) {
            return null;
        }
        return new int[] {types.getInt(t.pos + 12), types.getInt(t.pos + 20)};
    }

    /** A member of the struct that {@code typeId} names (after typedefs), or null. */
    public Member member(int typeId, String name) {
        Member m = find(resolve(typeId), name);
        return m == null ? null : new Member(m.offset, sizeOf(m.typeId), m.typeId);
    }

    public int sizeOf(int typeId) {
        Type t = byId.get(resolve(typeId));
        return switch (t.kind) {
            case KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_FLOAT -> t.sizeOrType;
            case KIND_PTR -> 8;
            case KIND_ARRAY -> sizeOf(types.getInt(t.pos + 12)) * types.getInt(t.pos + 20);
            default -> -1;
        };
    }

    /** Follows typedefs and qualifiers to the type that has a layout. */
    private int resolve(int typeId) {
        for (int guard = 0; guard < 32; guard++) {
            Type t = byId.get(typeId);
            if (t == null) {
                return typeId;
            }
            switch (t.kind) {
                case KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG -> typeId = t.sizeOrType;
                default -> {
                    return typeId;
                }
            }
        }
        throw new IllegalArgumentException("BTF type chain too long at " + typeId);
    }

    private Member find(int structId, String name) {
        Type t = byId.get(structId);
        if (t == null || (t.kind != KIND_STRUCT && t.kind != KIND_UNION)) {
            return null;
        }
        for (int i = 0; i < t.vlen; i++) {
            int at = t.pos + 12 + 12 * i;
            int nameOff = types.getInt(at);
            int type = types.getInt(at + 4);
            int bits = types.getInt(at + 8);
            int bitOffset = t.kindFlag ? bits & 0xffffff : bits;
            boolean bitField = t.kindFlag && (bits >>> 24) != 0;
            if (nameOff == 0) {
                Member inner = find(resolve(type), name); // anonymous struct or union
                if (inner != null) {
                    return new Member(bitOffset / 8 + inner.offset, inner.size, inner.typeId);
                }
            } else if (name.equals(name(nameOff))) {
                if (bitField || bitOffset % 8 != 0) {
                    return null;
                }
                return new Member(bitOffset / 8, sizeOf(type), type);
            }
        }
        return null;
    }
}
