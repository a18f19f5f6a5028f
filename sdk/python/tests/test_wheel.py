"""The wheel that the build makes installs with pip into a fresh venv and works there."""

import glob
import os
import subprocess
import sys
import tempfile
import unittest


class WheelTest(unittest.TestCase):
    def test_pip_installs_the_wheel_into_a_venv_where_mrt_signs_and_recovers(self):
        wheels = glob.glob(os.path.join(os.environ["MRT_WHEEL_DIR"], "mrt-*.whl"))
        self.assertEqual(len(wheels), 1, wheels)
        with tempfile.TemporaryDirectory() as venv:
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            python = os.path.join(venv, "bin", "python")
            subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index",
                            "--disable-pip-version-check", wheels[0]], check=True)
            check = ("import mrt, mrt.aio; k = mrt.PrivateKey.generate(); "
                     "assert mrt.recover(b'x', mrt.sign(k, b'x')) == k.address; "
                     "print(mrt.__file__)")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            out = subprocess.run([python, "-c", check], check=True, env=env, text=True, cwd=venv,
                                 capture_output=True).stdout
            self.assertTrue(out.startswith(venv), out)


if __name__ == "__main__":
    unittest.main()
