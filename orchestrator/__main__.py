from orchestrator.controllers.cli.main import main

main()
