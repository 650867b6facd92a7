"""Lava processes of brainkit's own (imported only where lava-nc is installed: the Lava
environment).  Each lives in a sub-package of its own because Lava finds a process's models
by importing every module beside it."""
