commands = []
