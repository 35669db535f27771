{
  "targets": [
    {
      "target_name": "fsext",
      "sources": ["fsext.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
