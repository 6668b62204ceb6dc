package raigov;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KmsClient;

/**
 * Spark's side of raigov's in-process KMS (raigov/store/parquet_crypto.py): unwraps the
 * key-encryption keys pyarrow wrapped, AES-256-GCM with the master key identifier as
 * associated data, stored as base64(nonce || ciphertext || tag). The wrapping key of
 * each identifier comes from the Hadoop configuration (raigov.kms.key.ID, base64), set
 * by raigov.monitors.spark_engine for the run; the data key itself never reaches Spark.
 * Read-only: Spark never writes raigov's lake, so wrapKey refuses.
 */
public class RaigovKms implements KmsClient {
  private Configuration conf;

  @Override
  public void initialize(Configuration configuration, String kmsInstanceID,
                         String kmsInstanceURL, String accessToken) {
    this.conf = configuration;
  }

  @Override
  public String wrapKey(byte[] keyBytes, String masterKeyIdentifier)
      throws KeyAccessDeniedException {
    throw new KeyAccessDeniedException("raigov's Spark engine only reads the lake");
  }

  @Override
  public byte[] unwrapKey(String wrappedKey, String masterKeyIdentifier)
      throws KeyAccessDeniedException {
    String encoded = conf.getTrimmed("raigov.kms.key." + masterKeyIdentifier);
    if (encoded == null) {
      throw new KeyAccessDeniedException("no raigov wrapping key for " + masterKeyIdentifier);
    }
    try {
      byte[] raw = Base64.getDecoder().decode(wrappedKey);
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      SecretKeySpec key = new SecretKeySpec(Base64.getDecoder().decode(encoded), "AES");
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, raw, 0, 12));
      cipher.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      return cipher.doFinal(raw, 12, raw.length - 12);
    } catch (Exception e) {
      throw new KeyAccessDeniedException("cannot unwrap a key of " + masterKeyIdentifier
                                         + ": " + e);
    }
  }
}
