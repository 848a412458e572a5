package io.chainroute.testing.algodsim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessagePackException;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.Value;
import org.msgpack.value.ValueType;

/**
 * The msgpack the simulator reads and writes (msgpack-core): submitted transaction groups in,
 * blocks and pending-transaction records out. Keys are written in sorted order and integers in
 * their shortest form, as algod's canonical encoding does. Stateless.
 */
final class AlgodMsgpack {
  private AlgodMsgpack() {}

  /** One signed transaction of a submitted group: its id and its bytes as the client sent them. */
  record Submitted(String txId, byte[] signedTxn) {}

  /**
   * A {@code POST /v2/transactions} body: one or more concatenated msgpack {@code SignedTxn} maps
   * (protocols.md A.4). The id of each is base32(SHA-512/256("TX" + the {@code txn} value's
   * bytes)), which is algod's transaction id when the client encoded canonically, as the SDKs do.
   *
   * @throws IllegalArgumentException the body is not such a stream; the message says why
   */
  static List<Submitted> readGroup(byte[] body) {
    List<Submitted> group = new ArrayList<>();
    try (MessageUnpacker in = MessagePack.newDefaultUnpacker(body)) {
      while (in.hasNext()) {
        int start = (int) in.getTotalReadBytes();
        if (in.getNextFormat().getValueType() != ValueType.MAP) {
          throw new IllegalArgumentException(
              "a SignedTxn must be a map, not " + in.getNextFormat());
        }
        byte[] txn = null;
        int fields = in.unpackMapHeader();
        for (int i = 0; i < fields; i++) {
          Value key = in.unpackValue();
          boolean isTxn = key.isStringValue() && key.asStringValue().asString().equals("txn");
          int valueStart = (int) in.getTotalReadBytes();
          in.skipValue();
          if (isTxn) {
            txn = Arrays.copyOfRange(body, valueStart, (int) in.getTotalReadBytes());
          }
        }
        if (txn == null) {
          throw new IllegalArgumentException("SignedTxn has no txn field");
        }
        byte[] signed = Arrays.copyOfRange(body, start, (int) in.getTotalReadBytes());
        group.add(new Submitted(txId(txn), signed));
      }
    } catch (IOException | MessagePackException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    return group;
  }

  /** A PendingTransactionResponse: {@code confirmed-round} once in a block, pool error, the txn. */
  static byte[] pending(long confirmedRound, byte[] signedTxn) {
    try (MessageBufferPacker out = MessagePack.newDefaultBufferPacker()) {
      out.packMapHeader(confirmedRound > 0 ? 3 : 2);
      if (confirmedRound > 0) {
        out.packString("confirmed-round").packLong(confirmedRound);
      }
      out.packString("pool-error").packString("");
      out.packString("txn").writePayload(signedTxn);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code {"block": header}}, with header values that are strings, longs or bytes. */
  static byte[] block(SortedMap<String, Object> header) {
    try (MessageBufferPacker out = MessagePack.newDefaultBufferPacker()) {
      out.packMapHeader(1).packString("block").packMapHeader(header.size());
      for (Map.Entry<String, Object> e : header.entrySet()) {
        out.packString(e.getKey());
        if (e.getValue() instanceof Long l) {
          out.packLong(l);
        } else if (e.getValue() instanceof byte[] b) {
          out.packBinaryHeader(b.length).writePayload(b);
        } else {
          out.packString(String.valueOf(e.getValue()));
        }
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String txId(byte[] txn) {
    return base32(sha512_256("TX".getBytes(StandardCharsets.US_ASCII), txn));
  }

  /** An Algorand address: base32(public key + the last 4 bytes of SHA-512/256(public key)). */
  static String address(byte[] publicKey) {
    byte[] sum = sha512_256(publicKey);
    byte[] a = Arrays.copyOf(publicKey, publicKey.length + 4);
    System.arraycopy(sum, sum.length - 4, a, publicKey.length, 4);
    return base32(a);
  }

  static byte[] sha512_256(byte[]... parts) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-512/256");
      for (byte[] p : parts) {
        sha.update(p);
      }
      return sha.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-512/256", e);
    }
  }

  /** RFC 4648 base32 without padding (Algorand transaction ids and addresses). */
  static String base32(byte[] data) {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    StringBuilder sb = new StringBuilder();
    int buffer = 0;
    int bits = 0;
    for (byte d : data) {
      buffer = (buffer << 8) | (d & 0xff);
      bits += 8;
      while (bits >= 5) {
        sb.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
        bits -= 5;
      }
    }
    if (bits > 0) {
      sb.append(alphabet.charAt((buffer << (5 - bits)) & 31));
    }
    return sb.toString();
  }
}
