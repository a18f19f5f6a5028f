"""Keys, keystores, signatures, envelopes and vectors through the Python SDK (offline)."""

import glob
import os
import tempfile
import unittest

import mrt


class KeyTest(unittest.TestCase):
    def test_a_signature_recovers_the_signers_address(self):
        key = mrt.PrivateKey.generate()
        signature = mrt.sign(key, b"hello raiden")
        self.assertEqual(mrt.recover(b"hello raiden", signature), key.address)
        self.assertNotEqual(mrt.recover(b"hello raider", signature), key.address)

    def test_a_known_key_has_its_known_address(self):
        # The first account of Hardhat's and Anvil's test mnemonic.
        key = mrt.PrivateKey.from_hex(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        self.assertEqual(key.checksum_address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        self.assertEqual(key.address, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")

    def test_the_key_is_never_printed(self):
        key = mrt.PrivateKey.from_hex("11" * 32)
        self.assertNotIn("1111", repr(key))
        self.assertIn("redacted", repr(key))

    def test_bad_input_raises_with_its_reason(self):
        with self.assertRaises(mrt.InvalidKeyError) as e:
            mrt.PrivateKey.from_hex("zz")
        self.assertEqual(e.exception.kind, "bad_hex")
        with self.assertRaises(mrt.InvalidKeyError) as e:
            mrt.PrivateKey.from_hex("00" * 32)
        self.assertEqual(e.exception.kind, "out_of_range")
        with self.assertRaises(mrt.SignatureError) as e:
            mrt.recover(b"x", "0x12")
        self.assertEqual(e.exception.kind, "malformed")
        with self.assertRaises(mrt.AddressError) as e:
            mrt.checksum_address("0xF39FD6E51aad88F6F4ce6aB8827279cffFb92266")
        self.assertEqual(e.exception.kind, "bad_checksum")
        with self.assertRaises(TypeError):
            mrt.sign("not a key", b"x")
        self.assertTrue(issubclass(mrt.NodeError, mrt.Error))

    def test_a_keystore_opens_with_its_password_only(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "node.json")
            key = mrt.PrivateKey.generate()
            key.to_keystore(path, "correct horse", light=True)
            self.assertEqual(mrt.PrivateKey.from_keystore(path, b"correct horse").address,
                             key.address)
            with self.assertRaises(mrt.KeystoreError) as e:
                mrt.PrivateKey.from_keystore(path, "wrong")
            self.assertEqual(e.exception.kind, "wrong_password")
            with self.assertRaises(mrt.KeystoreError) as e:
                key.to_keystore(path, "again", light=True)
            self.assertEqual(e.exception.kind, "exists")
            with self.assertRaises(mrt.KeystoreError) as e:
                mrt.PrivateKey.from_keystore(os.path.join(d, "missing.json"), "x")
            self.assertEqual(e.exception.kind, "io")


class EnvelopeTest(unittest.TestCase):
    def test_an_envelope_is_checked_as_protocol_section_4_says(self):
        alice, bob = mrt.PrivateKey.generate(), mrt.PrivateKey.generate()
        envelope = mrt.message_envelope(alice, bob.address, "balance proof")
        checked = mrt.validate_envelope(envelope, receiver=bob.address)
        self.assertEqual(checked["sender"], alice.address)
        self.assertEqual(checked["body"], "balance proof")
        with self.assertRaises(mrt.EnvelopeError) as e:
            mrt.validate_envelope(envelope, receiver=alice.address)
        self.assertEqual(e.exception.kind, "wrong_recipient")
        with self.assertRaises(mrt.EnvelopeError) as e:
            mrt.validate_envelope(envelope.replace("balance", "Balance"), receiver=bob.address)
        self.assertEqual(e.exception.kind, "bad_signature")
        with self.assertRaises(mrt.EnvelopeError) as e:
            mrt.validate_envelope("{", receiver=bob.address)
        self.assertEqual(e.exception.kind, "malformed")
        with self.assertRaises(ValueError):
            mrt.validate_envelope(envelope)

    def test_a_broadcast_envelope_belongs_to_its_topic(self):
        key = mrt.PrivateKey.generate()
        envelope = mrt.broadcast_envelope(key, "raiden_1_path_finding", "capacity")
        self.assertEqual(
            mrt.validate_envelope(envelope, topic="raiden_1_path_finding")["topic"],
            "raiden_1_path_finding")
        with self.assertRaises(mrt.EnvelopeError) as e:
            mrt.validate_envelope(envelope, topic="raiden_1_monitoring")
        self.assertEqual(e.exception.kind, "wrong_topic")


class VectorTest(unittest.TestCase):
    def test_every_conformance_vector_passes(self):
        files = glob.glob(os.path.join(os.environ["MRT_VECTORS_DIR"], "*.json"))
        self.assertTrue(files)
        for path in files:
            report = mrt.run_vectors(path)
            self.assertIsNone(report["file_error"], path)
            self.assertEqual(report["failed"], 0, (path, report["failures"][:3]))
            self.assertGreater(report["passed"], 0, path)


if __name__ == "__main__":
    unittest.main()
