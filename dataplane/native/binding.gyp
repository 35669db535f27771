{
  "targets": [
    {
      "target_name": "fsext",
      "sources": ["fsext.c"],
      "cflags": ["-O2", "-Wall"]
    },
    {
      "target_name": "zerocopy",
      "sources": ["zerocopy.c"],
      "cflags": ["-O2", "-Wall"]
    },
    {
      "target_name": "xts",
      "sources": ["xts.c"],
      "cflags": ["-O2", "-Wall"],
      "libraries": ["-ldl"]
    }
  ]
}
