from drgaudit.cli import main

main()
