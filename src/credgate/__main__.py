from credgate.cli.main import main

main()
